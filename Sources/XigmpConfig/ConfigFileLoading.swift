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
        func refuse(_ message: String) -> ConfigError {
            ConfigError(issues: [ConfigIssue(fileName: path, line: nil, keyPath: nil, message: message)])
        }
        switch readFile(path) {
        case .failure(let failure) where failure.code == EISDIR || failure.code == ENODEV:
            throw refuse("not a regular file (\(failure.code == EISDIR ? "a directory" : "a device, FIFO or socket")); expected a YAML file")
        case .failure(let failure) where failure.code == EFBIG:
            throw refuse("larger than \(maxFileBytes / 1024) KiB; a config is a few KiB: is this the right file?")
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

    /// The largest config file read: 1 MiB (a real one is a few KiB).
    public static let maxFileBytes = 1 << 20

    /// The file's bytes, or the errno that stopped reading them: ENODEV for
    /// anything but a regular file (a FIFO would block, /dev/zero never
    /// ends), EFBIG past `maxFileBytes`.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        // O_NONBLOCK: opening a FIFO with no writer must not hang.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(ReadError(code: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(ReadError(code: errno)) }
        if st.st_mode & S_IFMT == S_IFDIR { return .failure(ReadError(code: EISDIR)) }
        guard st.st_mode & S_IFMT == S_IFREG else { return .failure(ReadError(code: ENODEV)) }
        guard st.st_size <= maxFileBytes else { return .failure(ReadError(code: EFBIG)) }
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
            // The file grew after fstat.
            if bytes.count > maxFileBytes { return .failure(ReadError(code: EFBIG)) }
        }
    }
}
