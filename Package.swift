// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "clinic",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "clinic", targets: ["clinic"]),
        .library(name: "ClinicCore", targets: ["ClinicCore"]),
        .library(name: "ClinicStore", targets: ["ClinicStore"]),
        .library(name: "ClinicAudio", targets: ["ClinicAudio"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries: module map + shim header, nothing else.
        .systemLibrary(name: "CSndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CFFTW", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSoxr", providers: [.apt(["libsoxr-dev"])]),

        // Domain values. No I/O.
        .target(name: "ClinicCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        // Decoding, validation and lossless encoding of recordings (libsndfile), and the
        // DSP front end: resampling (libsoxr), filters, spectra and envelopes (FFTW).
        .target(
            name: "ClinicAudio",
            dependencies: ["CSndfile", "CFFTW", "CSoxr", "ClinicCore"]
        ),

        // The local SQLite store: migrations, records, change log, audio blob files.
        .target(
            name: "ClinicStore",
            dependencies: ["ClinicCore", .product(name: "GRDB", package: "GRDB.swift")],
            plugins: ["EmbedMigrations"]
        ),

        // The field CLI: thin commands that call the libraries.
        .executableTarget(
            name: "clinic",
            dependencies: [
                "ClinicCore", "ClinicStore", "ClinicAudio",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (run in release: `swift run -c release clinic-bench`).
        .executableTarget(
            name: "clinic-bench",
            dependencies: ["ClinicCore", "ClinicStore", "ClinicAudio"],
            path: "Benchmarks"
        ),

        // Build tool: embeds Migrations/*.sql into the store's code so the installed
        // binary needs no files beside it.
        .executableTarget(name: "embed-sql", path: "Sources/embed-sql"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-sql"]),

        .testTarget(name: "ClinicCoreTests", dependencies: ["ClinicCore"]),
        .testTarget(name: "ClinicAudioTests", dependencies: ["ClinicAudio"]),
        .testTarget(
            name: "ClinicStoreTests",
            dependencies: ["ClinicStore", "ClinicAudio", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "ClinicCLITests", dependencies: ["ClinicCore", "ClinicAudio"]),
    ],
    swiftLanguageModes: [.v6]
)
