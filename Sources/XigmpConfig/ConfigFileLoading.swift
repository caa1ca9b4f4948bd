#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension DaemonConfig {
    /// Reads the file at `path` and parses it with
    /// ``parse(text:fileName:)``, labelling issues with `path`.
    ///
    /// The module's only I/O, a convenience for the daemon.
    /// - Throws: ``ConfigError``; a file that cannot be read or is not UTF-8
    ///   gives one issue without a line.
    public static func load(path: String) throws(ConfigError) -> LoadedConfig {
        let text: String
        switch readFile(path) {
        case .success(let bytes):
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw ConfigError(issues: [ConfigIssue(
                    fileName: path, line: nil, keyPath: nil,
                    message: "the file is not UTF-8 text; expected a UTF-8 YAML file")])
            }
            text = decoded
        case .failure(let failure):
            throw ConfigError(issues: [ConfigIssue(
                fileName: path, line: nil, keyPath: nil,
                message: "cannot read the file: \(String(cString: strerror(failure.code))); expected a readable YAML file")])
        }
        return try parse(text: text, fileName: path)
    }

    /// An errno from reading the file.
    struct ReadError: Error { let code: Int32 }

    /// The file's bytes, or the errno that stopped reading them.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadError(code: errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return .success(bytes) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadError(code: errno))
            }
            bytes += chunk[..<count]
        }
    }
}
