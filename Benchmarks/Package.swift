// swift-tools-version: 6.1
// Benchmarks live in their own package so the peers they compare with never enter voxbatch's build.
import PackageDescription

let package = Package(
    name: "voxbatch-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "voxbatch", path: ".."),
        .package(url: "https://github.com/swiftcsv/SwiftCSV", exact: "0.10.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", exact: "2.5.2"),
    ],
    targets: [
        // Each peer sits in its own target: both libraries declare a type named CSV.
        .target(name: "PeerSwiftCSV", dependencies: [.product(name: "SwiftCSV", package: "SwiftCSV")]),
        .target(name: "PeerCSVSwift", dependencies: [.product(name: "CSV", package: "CSV.swift")]),
        .executableTarget(
            name: "sftpbench",
            dependencies: [.product(name: "FileTransport", package: "voxbatch")]
        ),
        .executableTarget(
            name: "pgpbench",
            dependencies: [.product(name: "FileTransport", package: "voxbatch")]
        ),
        .executableTarget(
            name: "csvbench",
            dependencies: [
                .product(name: "CSVKit", package: "voxbatch"),
                "PeerSwiftCSV",
                "PeerCSVSwift",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
