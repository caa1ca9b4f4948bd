import Glibc

/// Every read and write of /proc/sys in one place.
public enum Sysctl {
    /// The integer at /proc/sys/KEY (`net/ipv4/conf/all/rp_filter`), or nil
    /// when it cannot be read.
    public static func read(_ key: String) -> Int? {
        guard let fd = KernelFD.open("/proc/sys/\(key)", O_RDONLY) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = Glibc.read(fd.raw, &buffer, buffer.count)
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingWhitespace)
    }

    /// Writes `value` to /proc/sys/KEY.
    public static func write(_ key: String, _ value: Int) throws(DatapathError) {
        let path = "/proc/sys/\(key)"
        guard let fd = KernelFD.open(path, O_WRONLY) else { throw DatapathError.system("opening \(path)", errno: errno) }
        let text = Array("\(value)\n".utf8)
        guard Glibc.write(fd.raw, text, text.count) == text.count else {
            throw DatapathError.system("writing \(path)", errno: errno)
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
