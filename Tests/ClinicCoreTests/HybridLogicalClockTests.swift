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

/// Counters and text forms that come from elsewhere (a pushed or pulled HLC) can be anything
/// the text form holds: the clock never overflows, and every timestamp it issues reads back.
@Suite struct HybridLogicalClockBoundsTests {
    @Test func aFullCounterMovesToTheNextMillisecond() {
        let full = HLCTimestamp(milliseconds: 5_000, counter: HLCTimestamp.maxCounter)
        let next = HLCTimestamp.next(after: full, wallMilliseconds: 4_000)
        #expect(next == HLCTimestamp(milliseconds: 5_001, counter: 0) && next > full)
        #expect(HLCTimestamp(next.description) == next)
        let received = HLCTimestamp.receive(full, last: full, wallMilliseconds: 0)
        #expect(received == HLCTimestamp(milliseconds: 5_001, counter: 0))
        #expect(HLCTimestamp.receive(full, last: nil, wallMilliseconds: 5_000) == HLCTimestamp(milliseconds: 5_001, counter: 0))
        // The largest text form the wire can carry still has a successor.
        let top = HLCTimestamp("9999999999999999-99999")!
        #expect(HLCTimestamp.receive(top, last: nil, wallMilliseconds: 0) > top)
    }

    @Test func textFormIsDigitsOnly() {
        #expect(HLCTimestamp("0001763779515123-00000") != nil)
        for bad in ["+001763779515123-00000", "0001763779515123-+0000", " 001763779515123-00000", "000176377951512３-00000",
                    "0001763779515123-0000 ", "0001763779515123_00000", "0001763779515123-000000", "-001763779515123-00000"] {
            #expect(HLCTimestamp(bad) == nil, "\(bad)")
        }
    }
}
