import Foundation
import PackagePlugin

/// Embeds the package's top-level `Migrations/<target>/*.sql` files into the target as Swift
/// string literals, so an installed binary carries its schema history with it.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let migrations = context.package.directoryURL
            .appending(path: "Migrations")
            .appending(path: target.name)
        let files = try FileManager.default.contentsOfDirectory(
            at: migrations, includingPropertiesForKeys: nil
        )
        .filter { $0.pathExtension == "sql" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations into \(target.name)",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
