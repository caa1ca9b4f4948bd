// swift-tools-version: 6.1
// The libFuzzer target for the YAML config parser, a package of its own so
// the root package's `swift build` never sees an executable without a main
// (libFuzzer supplies it). fuzz/run.sh builds it:
//   swift build -c release --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -sanitize=fuzzer,address \
//       --package-path fuzz/ConfigFuzz --scratch-path build/fuzz/config-build
import PackageDescription

let package = Package(
    name: "ConfigFuzz",
    dependencies: [
        // Named, so the products below do not depend on the checkout's folder name.
        .package(name: "xigmp", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "ConfigParseFuzz",
            dependencies: [
                .product(name: "XigmpConfig", package: "xigmp"),
                .product(name: "IGMPProxy", package: "xigmp"),
                .product(name: "IGMPWire", package: "xigmp"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
