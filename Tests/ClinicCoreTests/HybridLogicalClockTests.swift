import ClinicCore
import Testing

@Suite struct HybridLogicalClockTests {
    @Test func nextUsesWallClockWhenItMovesForward() {
        let last = HLCTimestamp(milliseconds: 1_000, counter: 7)
        #expect(HLCTimestamp.next(after: last, wallMilliseconds: 2_000) == HLCTimestamp(milliseconds: 2_000, counter: 0))
    }

    @Test func nextCountsWhenWallClockStandsStillOrStepsBack() {
        let last = HLCTimestamp(milliseconds: 5_000, counter: 2)
        #expect(HLCTimestamp.next(after: last, wallMilliseconds: 5_000) == HLCTimestamp(milliseconds: 5_000, counter: 3))
        #expect(HLCTimestamp.next(after: last, wallMilliseconds: 1_000) == HLCTimestamp(milliseconds: 5_000, counter: 3))
    }

    @Test func receiveIsAfterBothLocalAndRemote() {
        let local = HLCTimestamp(milliseconds: 10, counter: 4)
        let remote = HLCTimestamp(milliseconds: 10, counter: 9)
        let merged = HLCTimestamp.receive(remote, last: local, wallMilliseconds: 3)
        #expect(merged > local && merged > remote)
        #expect(merged == HLCTimestamp(milliseconds: 10, counter: 10))
        #expect(HLCTimestamp.receive(remote, last: local, wallMilliseconds: 50) == HLCTimestamp(milliseconds: 50, counter: 0))
    }

    @Test func textFormRoundTripsAndSortsLikeTheValues() throws {
        let values = [
            HLCTimestamp(milliseconds: 9, counter: 10), HLCTimestamp(milliseconds: 10, counter: 0),
            HLCTimestamp(milliseconds: 1_795_316_220_628, counter: 2), HLCTimestamp(milliseconds: 1_795_316_220_628, counter: 11),
        ]
        for v in values { #expect(HLCTimestamp(v.description) == v) }
        #expect(values.map(\.description).sorted() == values.sorted().map(\.description))
        #expect(HLCTimestamp("12-3") == nil)
        #expect(HLCTimestamp("not a clock") == nil)
    }
}
