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
        .library(name: "ClinicSync", targets: ["ClinicSync"]),
        .library(name: "ClinicAssessment", targets: ["ClinicAssessment"]),
        .library(name: "ClinicServer", targets: ["ClinicServer"]),
        .executable(name: "clinic-server", targets: ["clinic-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.33.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already in the graph through Hummingbird; named for ServiceGroup's graceful shutdown (InProcessServer).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
    ],
    targets: [
        // C libraries: module map + shim header, nothing else.
        .systemLibrary(name: "CSndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CFFTW", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSoxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),

        // ClinicAudio's FMA and AVX2 inner loops (the envelope's first-order filter, glibc
        // libmvec's vector log and exp), chosen at run time: Swift cannot enable FMA or AVX
        // for one function.
        .target(name: "CClinicDSP", linkerSettings: [.linkedLibrary("mvec", .when(platforms: [.linux]))]),

        // Domain values. No I/O.
        .target(name: "ClinicCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        // Decoding, validation and lossless encoding of recordings (libsndfile), and the
        // DSP front end: resampling (libsoxr), filters, spectra and envelopes (FFTW).
        .target(
            name: "ClinicAudio",
            dependencies: ["CSndfile", "CFFTW", "CSoxr", "CClinicDSP", "ClinicCore"]
        ),

        // The local SQLite store: migrations, records, change log, audio blob files, and the
        // sync client's side of the store (pulled pages applied with ClinicSync's merge rules).
        .target(
            name: "ClinicStore",
            dependencies: ["ClinicCore", "ClinicSync", .product(name: "GRDB", package: "GRDB.swift")],
            plugins: ["EmbedMigrations"]
        ),

        // On-device assessment: the shipped models (Models/*.json, embedded at build time) and the
        // rules that turn their probabilities into a grade and calls. Features in, a report out.
        // A cnn model runs on OpenBLAS (sgemm): COpenBLAS gives its declarations, and the library is
        // opened when such a model is loaded (PatchNetwork.swift, OpenBLAS).
        .target(name: "ClinicAssessment", dependencies: ["ClinicAudio", "ClinicCore", "COpenBLAS"], plugins: ["EmbedModels"]),

        // The sync protocol's types and the merge rules, shared by the client and the server;
        // the client's decisions (SyncMachine).
        .target(name: "ClinicSync", dependencies: ["ClinicCore"]),
        // The sync client's HTTP transport: the only importer of CCurl.
        .target(name: "ClinicSyncCurl", dependencies: ["CCurl", "ClinicCore", "ClinicSync"]),

        // The central server as a library (buildApplication), with SQLite and PostgreSQL backends.
        // The field CLI must not link it.
        .target(
            name: "ClinicServer",
            dependencies: [
                "ClinicCore", "ClinicSync",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        .executableTarget(
            name: "clinic-server",
            dependencies: ["ClinicServer", "ClinicCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // The field CLI: thin commands that call the libraries.
        .executableTarget(
            name: "clinic",
            dependencies: [
                "ClinicCore", "ClinicStore", "ClinicAudio", "ClinicAssessment", "ClinicSync", "ClinicSyncCurl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The Swift runtime and Foundation linked in (release only): a process starts in
            // about 13 ms instead of 21, which a one-shot `clinic features` needs
            // (docs/audio-front-end.md, "Speed"). The C libraries stay shared.
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--start-group", "-Xlinker", "-lFoundation", "-Xlinker", "-lFoundationInternationalization", "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-l_FoundationICU", "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lCoreFoundation", "-Xlinker", "--end-group", "-Xlinker", "-lstdc++"], .when(configuration: .release))]
        ),

        // Benchmarks (run in release: `swift run -c release clinic-bench`).
        .executableTarget(
            name: "clinic-bench",
            dependencies: ["ClinicCore", "ClinicStore", "ClinicAudio"],
            path: "Benchmarks/Store"
        ),
        // Audio front end benchmark (`clinic-audio-bench`): features vs the Python reference, the CLI process.
        .executableTarget(
            name: "clinic-audio-bench",
            dependencies: ["ClinicAudio", "ClinicAssessment"],
            path: "Benchmarks/Audio"
        ),
        // Seeded mutation fuzzing of the decoder and the features (`clinic-audio-fuzz`; corpus in Tests/Fixtures/fuzz).
        .executableTarget(
            name: "clinic-audio-fuzz",
            dependencies: ["ClinicAudio"],
            path: "Fuzz/Audio"
        ),
        // Seeded mutation fuzzing of the server's network-facing readers: the engine (run by the
        // tests for a bounded number of cases) and `clinic-server-fuzz` for long runs.
        .target(name: "ClinicServerFuzzing", dependencies: ["ClinicServer", "ClinicSync", "ClinicCore"], path: "Fuzz/ServerFuzzing"),
        .executableTarget(name: "clinic-server-fuzz", dependencies: ["ClinicServerFuzzing"], path: "Fuzz/Server"),
        // Server load benchmark (`swift run -c release clinic-server-bench`): N devices over loopback.
        .executableTarget(
            name: "clinic-server-bench",
            dependencies: [
                "ClinicServer", "ClinicSync", "ClinicCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/Server"
        ),

        // Sync benchmark (`swift run -c release clinic-sync-bench`): the engine and `clinic sync`
        // against an in-process server over loopback, with the fault proxy.
        .executableTarget(
            name: "clinic-sync-bench",
            dependencies: ["ClinicServer", "ClinicStore", "ClinicSync", "ClinicSyncCurl", "ClinicCore", "ClinicTestSupport",
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/Sync"
        ),

        // Build tool: embeds Migrations/*.sql into the store's code so the installed
        // binary needs no files beside it.
        .executableTarget(name: "embed-sql", path: "Sources/embed-sql"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-sql"]),
        .plugin(name: "EmbedModels", capability: .buildTool(), dependencies: ["embed-sql"]),

        .testTarget(name: "ClinicCoreTests", dependencies: ["ClinicCore"]),
        .testTarget(name: "ClinicAudioTests", dependencies: ["ClinicAudio", "CClinicDSP"]),
        .testTarget(
            name: "ClinicStoreTests",
            dependencies: ["ClinicStore", "ClinicSync", "ClinicAudio", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Test helpers shared by test targets: a fault-injecting TCP proxy, a seeded generator.
        .target(name: "ClinicTestSupport", path: "Tests/Support"),
        .testTarget(name: "ClinicCLITests", dependencies: ["ClinicCore", "ClinicAudio", "ClinicAssessment", "ClinicTestSupport"]),
        .testTarget(name: "ClinicSyncTests", dependencies: ["ClinicSync"]),
        .testTarget(name: "ClinicAssessmentTests", dependencies: ["ClinicAssessment", "ClinicAudio"]),
        // The transport against a real clinic-server on 127.0.0.1 and a fake one that answers badly,
        // and `clinic sync`'s engine end to end: real stores, a real server, a link that drops.
        .testTarget(name: "ClinicSyncCurlTests", dependencies: ["ClinicSyncCurl", "ClinicSync", "ClinicServer", "ClinicStore", "ClinicAudio", "ClinicTestSupport",
                                                              .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "ClinicServerTests",
            dependencies: [
                "ClinicServer", "ClinicSync", "ClinicServerFuzzing", "ClinicTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
