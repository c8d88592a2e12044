import Foundation
import PackagePlugin

/// Embeds the package's top-level `Migrations/<target>/*.sql` files (and those one folder
/// deeper, e.g. one folder per database backend, named `folder/file`) into the target as Swift
/// string literals, so an installed binary carries its schema history with it.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let migrations = context.package.directoryURL
            .appending(path: "Migrations")
            .appending(path: target.name)
        let fm = FileManager.default
        var files: [URL] = []
        for entry in try fm.contentsOfDirectory(at: migrations, includingPropertiesForKeys: nil) {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: entry.path, isDirectory: &isDirectory), isDirectory.boolValue {
                files += try fm.contentsOfDirectory(at: entry, includingPropertiesForKeys: nil)
            } else {
                files.append(entry)
            }
        }
        files = files.filter { $0.pathExtension == "sql" }.sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations into \(target.name)",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path, migrations.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
