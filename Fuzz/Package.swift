// swift-tools-version: 6.1
// libFuzzer targets for CSVKit (Swift's -sanitize=fuzzer on Linux). Built and run by ./fuzz, not by the tests.
import PackageDescription

let package = Package(
    name: "voxbatch-fuzz",
    dependencies: [.package(name: "voxbatch", path: "..")],
    targets: [
        .executableTarget(
            name: "fuzz-csv",
            dependencies: [.product(name: "CSVKit", package: "voxbatch")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
