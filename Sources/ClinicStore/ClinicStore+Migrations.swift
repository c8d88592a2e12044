import GRDB

extension ClinicStore {
    /// The schema history: `Migrations/ClinicStore/*.sql`, embedded at build time, applied in order.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in embeddedMigrations {
            migrator.registerMigration(migration.name) { db in
                try db.execute(sql: migration.sql)
            }
        }
        return migrator
    }

    /// Names of all migrations this build knows, in order.
    public static var migrationNames: [String] { embeddedMigrations.map(\.name) }

    /// Applies migrations up to and including `name` on `writer` (for migration tests).
    public static func migrate(_ writer: any DatabaseWriter, upTo name: String) throws {
        try migrator.migrate(writer, upTo: name)
    }

    /// Names of the migrations applied to this store.
    public func appliedMigrations() throws -> [String] {
        try writer.read { db in try Self.migrator.appliedMigrations(db) }
    }
}
