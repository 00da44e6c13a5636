// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "voxbatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voxbatch", targets: ["voxbatch"]),
        .library(name: "CSVKit", targets: ["CSVKit"]),
        .library(name: "FileTransport", targets: ["FileTransport"]),
        .library(name: "BatchJobs", targets: ["BatchJobs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries, wrapped as system-library targets (GRDB's pattern); no C type leaks above FileTransport.
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"]), .brew(["libssh2"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .systemLibrary(
            name: "CGPGME",
            pkgConfig: "gpgme",
            providers: [.apt(["libgpgme-dev"]), .brew(["gpgme"])]
        ),
        .systemLibrary(
            name: "CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // CSVKit's SIMD record scanner (AVX2 / SSE2 / portable, chosen at run time).
        .target(name: "CCSVScan"),
        // SQLite's process-wide configuration, which takes a variadic C call (sqlite3_config).
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "CSVKit",
            dependencies: ["CCSVScan", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "FileTransport",
            dependencies: [
                "CLibSSH2",
                "CCurl",
                "CGPGME",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "BatchJobs",
            dependencies: [
                "CSVKit",
                "FileTransport",
                "CPostgres",
                "CSQLiteTuning",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for the manifest's batch inserts (GRDB's own statement, bound directly).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "voxbatch",
            dependencies: [
                "CSVKit",
                "FileTransport",
                "BatchJobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CSVKitTests",
            dependencies: [
                "CSVKit",
                "CCSVScan",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // A job run in a child process that crash tests kill with SIGKILL at chosen points.
        .executableTarget(
            name: "voxbatch-crash-harness",
            dependencies: ["BatchJobs", "CSVKit", "FileTransport"],
            path: "Tests/CrashHarness"
        ),
        // Fixtures shared by test targets: a real sshd, child processes.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "FileTransportTests",
            dependencies: ["FileTransport", "TestSupport"]
        ),
        .testTarget(
            name: "BatchJobsTests",
            dependencies: ["BatchJobs", "CSVKit", "FileTransport", "TestSupport", "voxbatch-crash-harness",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(
            name: "VoxbatchCLITests",
            dependencies: ["voxbatch", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
