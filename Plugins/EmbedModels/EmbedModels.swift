import Foundation
import PackagePlugin

/// Embeds the package's `Models/*.json` model files into the target as Swift string literals
/// (`embeddedModels`, named by file name without `.json`), so an installed `clinic` carries its
/// models and needs no checkout beside it.
@main
struct EmbedModels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let models = context.package.directoryURL.appending(path: "Models")
        let files = try FileManager.default.contentsOfDirectory(at: models, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedModels.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) models into \(target.name)",
                executable: try context.tool(named: "embed-sql").url,
                arguments: ["--as", "embeddedModels:json", output.path, models.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
