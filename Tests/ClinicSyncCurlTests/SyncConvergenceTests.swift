import ClinicAudio
import ClinicCore
import ClinicServer
import ClinicStore
import ClinicSync
import ClinicSyncCurl
import ClinicTestSupport
import Foundation
import GRDB
import Testing

/// `clinic sync`'s engine end to end: two laptops' real stores, a real clinic-server on
/// 127.0.0.1, the libcurl transport, and a proxy that cuts the link every few kilobytes.
@Suite(.serialized) struct SyncConvergenceTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appending(path: "Samples")
    static let sampleFiles = ["circor2022_13918_AV.flac", "circor2022_13918_PV.flac", "circor2022_31737_AV.flac"]

    final class Laptop {
        let store: ClinicStore
        let directory: URL
        var token = ""
        init(_ name: String) throws {
            directory = FileManager.default.temporaryDirectory.appending(path: "clinic-laptop-\(name)-\(UUID().uuidString)")
            store = try ClinicStore.create(at: directory, site: "Site", deviceName: name)
        }
        deinit { try? FileManager.default.removeItem(at: directory) }
        var deviceID: UUID { UUID(strict: try! store.identity().deviceID)! }

        /// One `clinic sync` run, on a thread of its own: libcurl blocks, and the server in this
        /// process needs the concurrency pool's threads to answer.
        func sync(_ url: String, audio: Bool = false, seed: UInt64 = 7,
                  counter: ((SyncTransport) -> SyncTransport)? = nil) async throws -> SyncReport {
            let curl = try CurlTransport(.init(server: url, token: token))
            let transport = counter?(curl) ?? curl
            let engine = SyncEngine(transport: transport, store: store, configuration: .init(fetchAudio: audio), seed: seed, sleep: { _ in })
            return await withCheckedContinuation { done in
                let box = UncheckedBox(engine)
                Thread { done.resume(returning: box.value.run()) }.start()
            }
        }

        func record(_ patient: UUID, _ file: String, _ location: AuscultationLocation, allowDuplicate: Bool = false) throws -> Recording {
            let path = SyncConvergenceTests.samples.appending(path: file).path
            return try store.addRecording(NewRecording(patientID: patient, location: location, recordedAt: Date(), operatorName: "Nurse",
                                                       device: "Steth", originalFilename: file, audio: try AudioImport.prepare(path: path)),
                                          allowDuplicate: allowDuplicate)
        }
    }

    /// What two converged laptops must agree on: every patient and recording, field by field.
    func snapshot(_ l: Laptop) throws -> [String] {
        let patients = try l.store.patients(includeDeleted: true).map { "\($0.fields.map { "\($0.name)=\($0.value)" })" }
        let recordings = try l.store.recordings(includeDeleted: true).map { "\($0.fields.map { "\($0.name)=\($0.value)" })" }
        return (patients + recordings).sorted()
    }

    /// The site's whole feed, read on a thread of its own (see `Laptop.sync`).
    func feed(_ server: LiveServer, token: String) async throws -> [FeedEntry] {
        let url = server.url
        return try await withCheckedThrowingContinuation { done in
            Thread { done.resume(with: Result { try Self.readFeed(url, token) }) }.start()
        }
    }

    static func readFeed(_ url: String, _ token: String) throws -> [FeedEntry] {
        let t = try CurlTransport(.init(server: url, token: token))
        var all: [FeedEntry] = [], after: Int64 = 0
        while true {
            let page = try JSONDecoder().decode(PullResponse.self, from: Data(try t.send("GET", "/v1/changes?after=\(after)").get().body))
            all += page.changes
            after = page.next
            if !page.more { return all }
        }
    }

    @Test func twoLaptopsConvergeThroughTheServerAudioAndConflictsIncluded() async throws {
        try await LiveServer.with { server in
            let a = try Laptop("a"), b = try Laptop("b")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            b.token = try await server.enroll("b", deviceID: b.deviceID)

            let amina = try a.store.addPatient(PatientInput(externalID: "KE-1", givenName: "Amina", familyName: "Okafor", sex: "female"))
            let r1 = try a.record(amina.id, Self.sampleFiles[0], .AV)
            _ = try a.record(amina.id, Self.sampleFiles[1], .PV)
            let ra = try await a.sync(server.url)
            #expect(ra.ok && ra.pushed == 3 && ra.audioUploaded == 2 && ra.rejected.isEmpty, "\(ra)")

            let rb = try await b.sync(server.url, audio: true)
            #expect(rb.ok && rb.pulled == 3 && rb.audioDownloaded == 2, "\(rb)")
            #expect(try snapshot(a) == snapshot(b))
            #expect(try b.store.patients(search: "Okaf").map(\.id) == [amina.id], "a pulled patient is found by search")
            #expect(try b.store.audio(of: b.store.recording(r1.id)) == a.store.audio(of: r1))

            // B records a patient of its own; both edit Amina's family name without seeing the other's edit.
            let baraka = try b.store.addPatient(PatientInput(givenName: "Baraka", familyName: "Otieno"))
            _ = try b.record(baraka.id, Self.sampleFiles[2], .MV)
            try a.store.updatePatient(amina.id, PatientInput(familyName: "Okafor-Bello"))
            try b.store.updatePatient(amina.id, PatientInput(familyName: "Bello", birthDate: "2019-03-04"))
            #expect(try await a.sync(server.url).ok)
            let second = try await b.sync(server.url)
            #expect(second.ok && second.pushed == 3 && second.pulled == 1 && second.pushConflicts == 1 && second.newConflicts == 1, "\(second)")
            let third = try await a.sync(server.url, audio: true)
            #expect(third.ok && third.pulled == 3 && third.newConflicts == 1 && third.audioDownloaded == 1, "\(third)")
            #expect(try snapshot(a) == snapshot(b))
            let amina2 = try a.store.patient(amina.id)
            #expect(amina2.familyName == "Bello" && amina2.birthDate == "2019-03-04", "B's edit is later; both fields meet")

            // The conflict, resolved on A by keeping its own value, syncs like any edit.
            let conflict = try #require(try a.store.conflicts().first)
            #expect(conflict.record.field == "family_name" && conflict.record.losingValue == .text("Okafor-Bello")
                    && conflict.record.losingClock.device == a.deviceID && conflict.record.winningValue == .text("Bello"))
            try a.store.resolveConflict(UUID(strict: conflict.record.id)!, .losing)
            #expect(try a.store.conflicts().isEmpty)
            let resolved = try await a.sync(server.url)
            #expect(resolved.ok && resolved.pushed == 1 && resolved.pushConflicts == 0, "\(resolved)")
            // B had the conflict too; the server marked it resolved by A's write, so B closes it.
            #expect(try b.store.conflicts().count == 1)
            #expect(try await b.sync(server.url).ok)
            #expect(try b.store.patient(amina.id).familyName == "Okafor-Bello")
            #expect(try b.store.conflicts().isEmpty && b.store.conflicts(includeResolved: true).count == 1)
            let onServer = try await server.storage.conflicts(siteID: server.siteID, openOnly: false, limit: 10)
            #expect(onServer.count == 1 && onServer[0].resolvedAt != nil && onServer[0].resolvedBy != nil)
            #expect(try snapshot(a) == snapshot(b))

            // Nothing duplicated: every change once in the feed; both stores clean; nothing pending.
            let entries = try await feed(server, token: a.token)
            #expect(Set(entries.map(\.change.changeID)).count == entries.count)
            #expect(entries.count == (try a.store.changes().count + b.store.changes().count))
            for l in [a, b] {
                let report = try l.store.doctor()
                #expect(report.clean, "\(report.problems)")
                let status = try l.store.status()
                #expect(status.pendingChanges == 0 && status.pendingAudioBytes == 0 && status.rejectedChanges == 0)
            }
            // A sync with nothing to do sends and receives nothing.
            let idle = try await a.sync(server.url)
            #expect(idle.ok && idle.pushed == 0 && idle.pulled == 0 && idle.audioUploaded == 0)
        }
    }

    @Test(arguments: [11, 12, 13, 14, 15] as [UInt64])
    func aLinkThatDropsEveryFewKilobytesStillDeliversEverythingOnce(seed: UInt64) async throws {
        try await LiveServer.with({ $0.chunkBytes = 4_096 }) { server in
            let a = try Laptop("a"), b = try Laptop("b")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            b.token = try await server.enroll("b", deviceID: b.deviceID)
            // 2,000 to 9,000 bytes per connection: cuts land in request heads, bodies and answers.
            let proxy = try FaultProxy(upstream: server.port, cutAfter: 2_000...9_000, seed: seed)
            defer { proxy.stop() }
            for i in 0..<30 {
                let p = try a.store.addPatient(PatientInput(givenName: "Patient \(i)", familyName: "Family \(i)"))
                if i < Self.sampleFiles.count { _ = try a.record(p.id, Self.sampleFiles[i], .AV) }
            }
            let pushed = try await a.sync(proxy.url)
            #expect(pushed.ok, "\(pushed)")
            #expect(pushed.pushed == 33 && pushed.audioUploaded == 3)
            let pulled = try await b.sync(proxy.url, audio: true)
            #expect(pulled.ok && pulled.pulled == 33 && pulled.audioDownloaded == 3, "\(pulled)")
            #expect(proxy.cuts > 10 && pushed.retries + pulled.retries >= proxy.cuts / 2, "cuts \(proxy.cuts), retries \(pushed.retries)+\(pulled.retries)")
            #expect(try snapshot(a) == snapshot(b))
            let entries = try await feed(server, token: a.token)
            #expect(entries.count == 33 && Set(entries.map(\.change.changeID)).count == 33)
            #expect(try b.store.doctor().clean)
        }
    }

    /// A field link: about 50 kbit/s, 300 ms round trip, stalls of 3 s, and cuts at random
    /// points. Both laptops' syncs finish, and each cut costs at most one audio chunk again.
    /// Every byte is counted by the proxy (libcurl itself re-sends a request whose reused
    /// connection died before any answer, which the engine never sees): the bytes up over
    /// the bad link, less those of the same sync over a clean one in the same run, are at
    /// most a chunk and a few request heads per cut.
    @Test func aSlowStallingLinkFinishesAndResendsAtMostOneChunkPerCut() async throws {
        let chunk = 8_192
        func laptop(_ name: String, _ server: LiveServer) async throws -> Laptop {
            let l = try Laptop(name)
            l.token = try await server.enroll(name, deviceID: l.deviceID)
            let p = try l.store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor"))
            for file in Self.sampleFiles.prefix(2) { _ = try l.record(p.id, file, .AV) }
            return l
        }
        var cleanBytesUp: Int64 = 0
        try await LiveServer.with({ $0.chunkBytes = chunk }) { server in
            let clean = try FaultProxy(upstream: server.port)
            defer { clean.stop() }
            let c = try await laptop("c", server)
            #expect(try await c.sync(clean.url).ok)
            cleanBytesUp = clean.bytesUp
        }
        try await LiveServer.with({ $0.chunkBytes = chunk }) { server in
            let a = try await laptop("a", server)
            let b = try Laptop("b")
            b.token = try await server.enroll("b", deviceID: b.deviceID)
            let proxy = try FaultProxy(upstream: server.port, cutAfter: 5_000...20_000, seed: 21)
            defer { proxy.stop() }
            proxy.bytesPerSecond = 6_250
            proxy.latency = 0.15
            proxy.stall = .init(everyBytes: 20_000, seconds: 3)
            let counted = CountingTransport()
            var report = SyncReport(ok: false), runs = 0
            let started = Date()
            // A run retries each request 6 times; one that still stops is followed by another, as a user would.
            while !report.ok && runs < 5 {
                report = try await a.sync(proxy.url, seed: UInt64(runs + 1), counter: { counted.wrap($0) })
                runs += 1
            }
            #expect(report.ok, "\(report)")
            let extra = proxy.bytesUp - cleanBytesUp
            print("slow link: \(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(runs) run(s), \(proxy.cuts) cuts, "
                  + "\(proxy.connections) connections, \(counted.failures) failed requests (\(counted.failedAudioRequests) of audio), "
                  + "\(proxy.bytesUp) bytes up (clean link: \(cleanBytesUp)), \(extra) more")
            #expect(proxy.cuts >= 3, "the link should have been cut: \(proxy.cuts) cuts")
            #expect(extra <= Int64(proxy.cuts * (chunk + 2_048)), "\(extra) bytes more over \(proxy.cuts) cuts")
            let pulled = try await b.sync(proxy.url, audio: true)
            let again = pulled.ok ? pulled : try await b.sync(proxy.url, audio: true)
            #expect(try again.ok && b.store.missingAudio().isEmpty, "\(pulled) then \(again)")
            #expect(try snapshot(a) == snapshot(b))
            #expect(try b.store.doctor().clean)
        }
    }

    /// A download the link cuts off for good keeps what arrived on disk; the next run asks
    /// only for the rest, and the audio is stored once its hash matches.
    @Test func aDownloadCutOffInOneRunResumesInTheNext() async throws {
        try await LiveServer.with({ $0.chunkBytes = 4_096 }) { server in
            let a = try Laptop("a"), b = try Laptop("b")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            b.token = try await server.enroll("b", deviceID: b.deviceID)
            let p = try a.store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor"))
            let size = try a.record(p.id, Self.sampleFiles[0], .AV).audioSize
            #expect(try await a.sync(server.url).ok)
            #expect(try await b.sync(server.url).ok, "b has the recording, not its audio")
            // One connection that carries about half the audio, then no link at all.
            let proxy = try FaultProxy(upstream: server.port, seed: 4)
            defer { proxy.stop() }
            proxy.set(cutAfter: Int(size / 2)...Int(size / 2))
            proxy.goDown(afterMore: 1)
            let cut = try await b.sync(proxy.url, audio: true)
            let held = try #require(try b.store.missingAudio().first).held
            #expect(!cut.ok && held > 0 && held < size, "\(cut); held \(held) of \(size)")
            proxy.set(cutAfter: nil)
            proxy.comeBack()
            let resumed = try await b.sync(proxy.url, audio: true)
            // Bytes down: the audio not held, and an empty page of the feed.
            #expect(resumed.ok && resumed.audioDownloaded == 1 && resumed.bytesDown >= size - held && resumed.bytesDown < size - held + 200,
                    "\(resumed); held \(held) of \(size)")
            #expect(try b.store.missingAudio().isEmpty && b.store.doctor().clean)
            let recording = try #require(try b.store.recordings().first)
            #expect(try sha256Hex(b.store.audio(of: recording)) == recording.audioSHA256)
        }
    }

    @Test func aRunCutOffPartWayStopsSayingSoAndTheNextResumes() async throws {
        try await LiveServer.with({ $0.maxBatch = 5; $0.chunkBytes = 4_096 }) { server in
            let a = try Laptop("a")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            let proxy = try FaultProxy(upstream: server.port, seed: 3)
            defer { proxy.stop() }
            for i in 0..<23 { _ = try a.store.addPatient(PatientInput(givenName: "P\(i)", familyName: "F")) }
            // Each connection carries one small request and is cut in the next (keep-alive),
            // and after three connections the link goes away.
            proxy.set(cutAfter: 2_500...2_500)
            proxy.goDown(afterMore: 3)
            let cut = try await a.sync(proxy.url)
            #expect(!cut.ok && (cut.error ?? "").contains("no network"), "\(cut)")
            let status = try a.store.status()
            #expect(status.lastSyncError != nil && status.pendingChanges == Int64(23 - cut.pushed))
            #expect(cut.pushed > 0 && cut.pushed < 23, "\(cut)")
            proxy.set(cutAfter: nil)
            proxy.comeBack()
            let resumed = try await a.sync(proxy.url)
            #expect(resumed.ok && resumed.pushed == 23 - cut.pushed, "\(cut.pushed) then \(resumed.pushed)")
            #expect(try await feed(server, token: a.token).count == 23)
            #expect(try a.store.status().lastSyncError == nil)
        }
    }

    /// Seeded random work on three laptops (patients added, edited on several laptops at once,
    /// deleted; recordings with real audio; conflicts resolved) interleaved with syncs in random
    /// order, over a link that cuts requests and answers at random points or goes away
    /// mid-run. At the end every laptop holds the same records with the same field clocks,
    /// each field holds the value of its latest write anywhere, nothing is pending or
    /// duplicated, and every store is clean. The seed is in the test's name; set
    /// CLINIC_SYNC_SEEDS=N for N more seeds (docs/sync-client.md).
    @Test(arguments: SyncConvergenceTests.seeds)
    func randomWorkAndSyncsOverABadLinkConverge(seed: UInt64) async throws {
        try await LiveServer.with({ $0.chunkBytes = 8_192; $0.maxBatch = 7 }) { server in
            var rng = SplitMix(seed: seed)
            let laptops = try (0..<3).map { try Laptop("l\($0)") }
            for l in laptops { l.token = try await server.enroll("l", deviceID: l.deviceID) }
            let proxy = try FaultProxy(upstream: server.port, seed: seed)
            defer { proxy.stop() }
            var interrupted = 0
            for _ in 0..<70 {
                let l = laptops[rng.below(3)]
                let known = try l.store.patients()
                switch rng.below(10) {
                case 0, 1:
                    _ = try l.store.addPatient(PatientInput(givenName: "G\(rng.below(1000))", familyName: "F\(rng.below(1000))"))
                case 2, 3, 4:
                    guard let p = known.randomElement(using: &rng) else { continue }
                    let input: PatientInput = switch rng.below(4) {
                    case 0: PatientInput(familyName: "F\(rng.below(1000))")
                    case 1: PatientInput(givenName: "G\(rng.below(1000))")
                    case 2: PatientInput(sex: ["female", "male", ""][rng.below(3)])
                    default: PatientInput(notes: "note \(rng.below(1000))")
                    }
                    try l.store.updatePatient(p.id, input)
                case 5:
                    guard rng.below(3) == 0, let p = known.randomElement(using: &rng) else { continue }
                    try l.store.deletePatient(p.id)
                case 6:
                    guard let p = known.randomElement(using: &rng) else { continue }
                    _ = try l.record(p.id, Self.sampleFiles[rng.below(3)], .AV, allowDuplicate: true)
                case 7:
                    guard let c = try l.store.conflicts().first, (try? l.store.patient(UUID(strict: c.record.entityID)!).deleted) == false else { continue }
                    // A typed value where the field takes free text (any other is refused, as it should be).
                    let text = ["given_name", "family_name", "notes"].contains(c.record.field)
                    let choices: [ConflictChoice] = [.winning, .losing] + (text ? [.value("R\(rng.below(100))")] : [])
                    try l.store.resolveConflict(UUID(strict: c.record.id)!, choices[rng.below(choices.count)])
                default:
                    // A sync: a clean link, one that cuts every few KB, or one that goes away part-way.
                    switch rng.below(3) {
                    case 0: proxy.set(cutAfter: nil); proxy.comeBack()
                    case 1: proxy.set(cutAfter: 3_000...12_000); proxy.comeBack()
                    default: proxy.set(cutAfter: 3_000...12_000); proxy.goDown(afterMore: 1 + rng.below(4))
                    }
                    let r = try await l.sync(proxy.url, audio: rng.below(2) == 0, seed: rng.next())
                    if !r.ok { interrupted += 1 }
                    #expect(r.ok || (r.error ?? "").contains("no network"), "seed \(seed): \(r)")
                    #expect(r.rejected.isEmpty, "seed \(seed): \(r.rejected)")
                }
            }
            proxy.set(cutAfter: nil)
            proxy.comeBack()
            for _ in 0..<2 {
                for l in laptops {
                    let r = try await l.sync(proxy.url, audio: true)
                    #expect(r.ok, "seed \(seed): \(r)")
                }
            }
            // Identical records and clocks everywhere.
            let first = try snapshot(laptops[0])
            for l in laptops.dropFirst() { #expect(try snapshot(l) == first, "seed \(seed)") }
            func clocks(_ l: Laptop) throws -> [String: [String: String]] {
                var all: [String: [String: String]] = [:]
                for p in try l.store.patients(includeDeleted: true) { all["p" + p.id.lowercased] = try l.store.fieldClocks(.patient, id: p.id) }
                for r in try l.store.recordings(includeDeleted: true) { all["r" + r.id.lowercased] = try l.store.fieldClocks(.recording, id: r.id) }
                return all
            }
            let clocks0 = try clocks(laptops[0])
            for l in laptops.dropFirst() { #expect(try clocks(l) == clocks0, "seed \(seed)") }
            // Each field holds its latest write anywhere (by clock), and has that write's clock.
            var latest: [String: (clock: String, value: FieldValue)] = [:]
            for l in laptops {
                for c in try l.store.changes(limit: 100_000) {
                    let clock = "\(c.hlc)@\(c.deviceID.lowercased)"
                    for (field, value) in c.fields {
                        let key = "\(c.entity == .patient ? "p" : "r")\(c.entityID.lowercased)/\(field)"
                        if latest[key].map({ $0.clock < clock }) ?? true { latest[key] = (clock, value) }
                    }
                }
            }
            let patients = Dictionary(uniqueKeysWithValues: try laptops[0].store.patients(includeDeleted: true).map { ("p" + $0.id.lowercased, $0.fields) })
            let recordings = Dictionary(uniqueKeysWithValues: try laptops[0].store.recordings(includeDeleted: true).map { ("r" + $0.id.lowercased, $0.fields) })
            var checked = 0
            for (key, write) in latest {
                let parts = key.split(separator: "/")
                let record = String(parts[0]), field = String(parts[1])
                let fields = try #require(patients[record] ?? recordings[record], "seed \(seed): \(record) missing")
                let value = fields.first { $0.name == field }?.value
                #expect(value.map { $0.sameValue(as: write.value) } == true, "seed \(seed): \(key) is \(value ?? .null), its latest write \(write.value)")
                #expect(clocks0[record]?[field] == write.clock, "seed \(seed): \(key)")
                checked += 1
            }
            // Nothing pending, nothing duplicated, every store clean.
            let entries = try await feed(server, token: laptops[0].token)
            var logged = 0
            for l in laptops {
                logged += try l.store.changes(limit: 100_000).count
                let status = try l.store.status()
                #expect(status.pendingChanges == 0 && status.pendingAudioBytes == 0 && status.rejectedChanges == 0, "seed \(seed)")
                let doctor = try l.store.doctor()
                #expect(doctor.clean, "seed \(seed): \(doctor.problems)")
            }
            #expect(entries.count == logged && Set(entries.map(\.change.changeID)).count == logged, "seed \(seed)")
            print("convergence seed \(seed): \(logged) changes, \(checked) fields checked, \(interrupted) interrupted syncs, \(proxy.cuts) cuts")
        }
    }

    static var seeds: [UInt64] {
        let more = ProcessInfo.processInfo.environment["CLINIC_SYNC_SEEDS"].flatMap(Int.init) ?? 0
        return [1, 2, 3] + (0..<UInt64(more)).map { 1_000 + $0 }
    }

    /// The server restored from a backup that lacks some audio: the laptop's belief that the
    /// server holds it is corrected by the server's `audio_missing`, and the audio goes up again.
    @Test func audioTheServerLostIsSentAgain() async throws {
        try await LiveServer.with { server in
            let a = try Laptop("a"), b = try Laptop("b")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            b.token = try await server.enroll("b", deviceID: b.deviceID)
            let p = try a.store.addPatient(PatientInput(givenName: "Amina", familyName: "Okafor"))
            _ = try a.record(p.id, Self.sampleFiles[0], .AV)
            #expect(try await a.sync(server.url).audioUploaded == 1)
            let db = try DatabaseQueue(path: server.directory.appending(path: "server.sqlite").path)
            try await db.write { db in try db.execute(sql: "DELETE FROM blob_sites") }
            // The same audio again, for another patient: the laptop believes the server holds it.
            let q = try a.store.addPatient(PatientInput(givenName: "Baraka", familyName: "Otieno"))
            _ = try a.record(q.id, Self.sampleFiles[0], .PV, allowDuplicate: true)
            let again = try await a.sync(server.url)
            #expect(again.ok && again.pushed == 2 && again.audioUploaded == 1 && again.rejected.isEmpty, "\(again)")
            let pulled = try await b.sync(server.url, audio: true)
            #expect(pulled.ok && pulled.pulled == 4 && pulled.audioDownloaded == 1, "\(pulled)")
            #expect(try b.store.doctor().clean)
        }
    }

    @Test func aRevokedTokenStopsAtOnceAndChangesNothing() async throws {
        try await LiveServer.with { server in
            let a = try Laptop("a")
            a.token = try await server.enroll("a", deviceID: a.deviceID)
            _ = try a.store.addPatient(PatientInput(givenName: "A", familyName: "B"))
            try await server.admin.revoke(device: a.deviceID.lowercased)
            let r = try await a.sync(server.url)
            #expect(!r.ok && (r.error ?? "").contains("token") && r.retries == 0, "\(r)")
            #expect(try a.store.status().pendingChanges == 1)
        }
    }
}

/// Counts what a sync run sends through a transport: audio PUT body bytes, and requests that
/// got no whole answer (each an interruption).
final class CountingTransport: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var audioBodyBytes: Int64 = 0
    private(set) var failures = 0
    private(set) var failedAudioRequests = 0

    func wrap(_ inner: SyncTransport) -> SyncTransport { Wrapped(inner: inner, counter: self) }

    private final class Wrapped: SyncTransport {
        let inner: SyncTransport
        let counter: CountingTransport
        init(inner: SyncTransport, counter: CountingTransport) {
            self.inner = inner
            self.counter = counter
        }
        func exchange(_ method: String, _ path: String, body: [UInt8]?, headers: [String: String]) -> Result<HTTPAnswer, SyncMachine.Failure> {
            let audio = method == "PUT" && path.hasPrefix("/v1/blobs/")
            let answer = inner.exchange(method, path, body: body, headers: headers)
            counter.lock.withLock {
                if audio { counter.audioBodyBytes += Int64(body?.count ?? 0) }
                if case .failure = answer {
                    counter.failures += 1
                    if audio { counter.failedAudioRequests += 1 }
                }
            }
            return answer
        }
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// `clinic sync`'s engine against a fake server that answers badly: each run stops with an
/// error naming the problem, and the store is as it was (nothing acknowledged, nothing applied).
@Suite struct SyncBadAnswerTests {
    @Test func badAnswersStopTheRunSayingWhyAndChangeNothing() throws {
        let cases: [(String, [UInt8], String)] = [
            ("garbage", Array("garbage\r\n\r\n".utf8), "no network"),
            ("HTML portal", FakeServer.http("200 OK", ["Content-Type: text/html"], "<html>login</html>"), "not the sync protocol's"),
            ("500", FakeServer.http("500 Internal Server Error", [], "oops"), "HTTP 500"),
            ("truncated", FakeServer.http("200 OK", [], "{\"protocol_version\":", declaredLength: 400), "no network"),
            ("redirect", FakeServer.http("302 Found", ["Location: http://evil.example/"], ""), "HTTP 302"),
            ("revoked", FakeServer.http("401 Unauthorized", ["Content-Type: application/json"], #"{"error":"unauthorized","message":"revoked"}"#), "token"),
        ]
        for (label, reply, expected) in cases {
            let fake = try FakeServer(reply: reply)
            defer { fake.stop() }
            let laptop = try SyncConvergenceTests.Laptop("bad")
            _ = try laptop.store.addPatient(PatientInput(givenName: "A", familyName: "B"))
            let before = try laptop.store.status()
            let transport = try CurlTransport(.init(server: fake.url, token: "t"))
            let report = SyncEngine(transport: transport, store: laptop.store, seed: 1, sleep: { _ in }).run()
            #expect(!report.ok && (report.error ?? "").contains(expected), "\(label): \(report.error ?? "ok")")
            let after = try laptop.store.status()
            #expect(after.pendingChanges == before.pendingChanges && after.patients == before.patients, "\(label)")
            #expect(try laptop.store.syncState().pullCursor == 0 && laptop.store.doctor().clean, "\(label)")
        }
    }
}
