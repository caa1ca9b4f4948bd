import Glibc

/// An interface name in the config, literal or a shell glob (`br-*`,
/// `veth?`, `eth[01]`): docker names its bridges `br-<id>`, so a role may
/// be given by pattern and taken by every interface that matches, now or
/// later.
public struct InterfacePattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// True when the text holds a glob character (`*`, `?`, `[`).
    public var isGlob: Bool { text.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// Whether `name` matches (fnmatch(3) without flags: `*` and `?` match
    /// any character, interface names having no `/`).
    public func matches(_ name: String) -> Bool {
        isGlob ? fnmatch(text, name, 0) == 0 : text == name
    }

    public var description: String { text }
}
