import ClinicStore
import GRDB
import Testing

/// One test per migration: it applies on top of the ones before it, leaves a consistent
/// database, and creates what it promises.
@Suite struct MigrationTests {
    @Test(arguments: ClinicStore.migrationNames)
    func migrationAppliesCleanly(_ name: String) throws {
        let db = try DatabaseQueue()
        try ClinicStore.migrate(db, upTo: name)
        let integrity = try db.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        let foreignKeys = try db.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(integrity == ["ok"])
        #expect(foreignKeys.isEmpty)
    }

    @Test func migrationNamesAreNumberedInOrder() {
        let names = ClinicStore.migrationNames
        #expect(!names.isEmpty)
        #expect(names == names.sorted())
        for (i, name) in names.enumerated() { #expect(name.hasPrefix(String(format: "%04d_", i + 1))) }
    }

    @Test func m0001CreatesTheSyncFriendlySchema() throws {
        let db = try DatabaseQueue()
        try ClinicStore.migrate(db, upTo: "0001_initial")
        for table in ["meta", "patients", "recordings", "assessments", "change_log", "patients_fts"] {
            let exists = try db.read { db in try db.tableExists(table) }
            #expect(exists, "missing \(table)")
        }
        // Text UUID keys and no UNIQUE index two offline devices could both satisfy.
        for table in ["patients", "recordings", "assessments"] {
            let key = try db.read { db in try db.primaryKey(table).columns }
            let indexes = try db.read { db in try db.indexes(on: table) }
            #expect(key == ["id"])
            for index in indexes where index.origin != .primaryKeyConstraint { #expect(!index.isUnique, "\(table).\(index.name) is unique") }
        }
        let options = try db.read { db in try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'change_log'") } ?? ""
        #expect(options.contains("AUTOINCREMENT"))
        // The search index follows inserts, updates and deletes.
        func matches(_ word: String) throws -> Int {
            try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM patients_fts WHERE patients_fts MATCH ?", arguments: [word]) ?? -1 }
        }
        try db.write { db in
            try db.execute(sql: "INSERT INTO patients(id, given_name, family_name, created_at, updated_at) VALUES ('x', 'Amina', 'Okafor', 't', 't')")
        }
        #expect(try matches("okafor") == 1)
        try db.write { db in try db.execute(sql: "UPDATE patients SET family_name = 'Bello' WHERE id = 'x'") }
        #expect(try matches("okafor") == 0)
        #expect(try matches("bello") == 1)
    }

    @Test func fileStoreRecordsAppliedMigrations() throws {
        let (store, dir) = try makeStore(.file); defer { cleanup(dir) }
        #expect(try store.appliedMigrations() == ClinicStore.migrationNames)
    }
}
