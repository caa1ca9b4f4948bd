import Foundation
import Testing
@testable import XigmpDaemon
import XigmpTestSupport
import XigmpTools

/// The control protocol and the `--json` shapes are a contract (README
/// "Control protocol"): these golden lines change only with the protocol's
/// version.
@Suite struct ControlProtocolTests {
    static let status = DaemonStatus(
        activeOutside: "primary", activeInterface: "eth0", modes: ["proxyInToOut", "proxyOutToIn"], membership: "track",
        uptimeSeconds: 42, querier: QuerierHeard(address: "10.0.0.1", version: "v3"), unicastFallback: nil,
        roles: [RoleStatus(role: "outside", interface: "eth0", ifindex: 2, datapath: "xdp", up: true, reason: nil),
                RoleStatus(role: "inside", interface: "docker0", ifindex: 5, datapath: "kernel", up: false,
                           reason: "interface docker0 (ifindex 5) is gone")])

    static let membership = MembershipReply(
        membership: "track",
        interfaces: [.init(interface: "docker0", role: "inside", querier: .init(role: "non-querier", querier: "172.17.0.1"),
                           groups: [.init(group: "239.1.1.1", filterMode: "exclude", compatibility: "v3",
                                          lastReporter: "172.17.0.2", groupTimerSeconds: 259.5,
                                          sources: [.init(address: "10.9.9.9", timerSeconds: 0, forwarding: false)],
                                          hosts: [.init(address: "172.17.0.2", mac: "02:42:ac:11:00:02", filterMode: "exclude",
                                                        sources: ["10.9.9.9"], timerSeconds: 259.5)],
                                          hostsUntracked: false)])],
        upstream: .init(interface: "eth0", version: "v3",
                        groups: [.init(group: "239.1.1.1", filterMode: "exclude", sources: ["10.9.9.9"])]),
        counters: ["docker0": ["reports": 3, "dropped_host_group_limit": 0]])

    static let routes = RoutesReply(mode: "xdp", routes: [
        .init(source: "*", group: "239.1.1.1", incoming: "eth0", out: ["docker0", "br-1"], path: "tc",
              packets: 10, bytes: 13_000, ratePps: 2.5, ageSeconds: 4, firstPacketMs: 0.291),
    ])

    @Test("status reply: a degraded loop is named under problems, which older replies leave out")
    func statusProblems() throws {
        var s = Self.status
        s.problems = ["the loop cannot watch its ports with epoll (EMFILE): it drains every port every 10 ms until it can"]
        let line = JSONCoding.line(ControlReply(status: s))
        #expect(line.contains(#""problems":["the loop cannot watch its ports with epoll (EMFILE): it drains every port every 10 ms until it can"]"#))
        let back = try JSONCoding.decoder().decode(ControlReply.self, from: Data(line.utf8))
        #expect(back.status?.problems == s.problems)
        #expect(!JSONCoding.line(ControlReply(status: Self.status)).contains("problems"))
    }

    @Test("status reply: golden line")
    func statusGolden() {
        #expect(JSONCoding.line(ControlReply(status: Self.status)) == #"{"ok":true,"protocol":"1.3","status":{"active_interface":"eth0","active_outside":"primary","membership":"track","modes":["proxyInToOut","proxyOutToIn"],"querier":{"address":"10.0.0.1","version":"v3"},"roles":[{"datapath":"xdp","ifindex":2,"interface":"eth0","role":"outside","up":true},{"datapath":"kernel","ifindex":5,"interface":"docker0","reason":"interface docker0 (ifindex 5) is gone","role":"inside","up":false}],"uptime_seconds":42}}"#)
    }

    @Test("groups reply: golden line")
    func membershipGolden() {
        #expect(JSONCoding.line(ControlReply(membership: Self.membership)) == #"{"membership":{"counters":{"docker0":{"dropped_host_group_limit":0,"reports":3}},"interfaces":[{"groups":[{"compatibility":"v3","filter_mode":"exclude","group":"239.1.1.1","group_timer_seconds":259.5,"hosts":[{"address":"172.17.0.2","filter_mode":"exclude","mac":"02:42:ac:11:00:02","sources":["10.9.9.9"],"timer_seconds":259.5}],"hosts_untracked":false,"last_reporter":"172.17.0.2","sources":[{"address":"10.9.9.9","forwarding":false,"timer_seconds":0}]}],"interface":"docker0","querier":{"querier":"172.17.0.1","role":"non-querier"},"role":"inside"}],"membership":"track","upstream":{"groups":[{"filter_mode":"exclude","group":"239.1.1.1","sources":["10.9.9.9"]}],"interface":"eth0","version":"v3"}},"ok":true,"protocol":"1.3"}"#)
    }

    @Test("routes reply: golden line (the incoming interface is \"in\")")
    func routesGolden() {
        #expect(JSONCoding.line(Self.routes) == #"{"mode":"xdp","routes":[{"age_seconds":4,"bytes":13000,"first_packet_ms":0.291,"group":"239.1.1.1","in":"eth0","out":["docker0","br-1"],"packets":10,"path":"tc","rate_pps":2.5,"source":"*"}]}"#)
    }

    @Test("refusal and ping: golden lines")
    func failureGolden() {
        #expect(JSONCoding.line(ControlReply.failure(.refused, "no alt interface configured"))
            == #"{"error":{"kind":"refused","message":"no alt interface configured"},"ok":false,"protocol":"1.3"}"#)
        #expect(JSONCoding.line(ControlReply()) == #"{"ok":true,"protocol":"1.3"}"#)
        #expect(JSONCoding.line(ControlRequest(.outside, value: "alt")) == #"{"cmd":"outside","protocol":"1.3","value":"alt"}"#)
    }

    @Test("every reply decodes back to itself")
    func roundTrip() throws {
        for reply in [ControlReply(status: Self.status), ControlReply(membership: Self.membership),
                      ControlReply(routes: Self.routes), .failure(.version, "x"), ControlReply()] {
            let bytes = Array(JSONCoding.line(reply).utf8)
            #expect(try ControlClient.decodeReply(bytes, from: "/s") == reply)
        }
    }

    @Test("requests: known commands, the same major of any minor, and no version at all are served")
    func requestsAccepted() throws {
        func cmd(_ text: String) throws -> ControlCommand { try ControlHandler.decode(Array(text.utf8)).get().cmd }
        #expect(try cmd(#"{"cmd":"status"}"#) == .status)
        #expect(try cmd(#"{"protocol":"1.9","cmd":"routes"}"#) == .routes)
        #expect(try ControlHandler.decode(Array(#"{"cmd":"outside","value":"alt"}"#.utf8)).get().value == "alt")
    }

    @Test("requests: another major, unknown commands and non-JSON are refused with what was expected")
    func requestsRefused() {
        func failure(_ text: String) -> ControlFailure? {
            if case .failure(let f) = ControlHandler.decode(Array(text.utf8)) { return f }
            return nil
        }
        let v2 = failure(#"{"protocol":"2.0","cmd":"status"}"#)
        #expect(v2?.kind == .version)
        #expect(v2?.message.contains("client speaks control protocol 2.0, this daemon 1.3") == true)
        let unknown = failure(#"{"cmd":"reboot"}"#)
        #expect(unknown?.kind == .badRequest)
        #expect(unknown?.message == "unknown command 'reboot' (ping, status, outside, groups, routes)")
        #expect(failure("status\n")?.kind == .badRequest)
        #expect(failure(#"{"protocol":"one","cmd":"status"}"#)?.message.contains("a version such as \"1.3\"") == true)
        #expect(failure(#"{"cmd":"outside","value":7}"#)?.kind == .badRequest)
    }

    @Test("a reply of another major, without a version, or unreadable: an error naming both versions")
    func repliesRefused() {
        func message(_ text: String) -> String? {
            do {
                _ = try ControlClient.decodeReply(Array(text.utf8), from: "/run/x.sock")
                return nil
            } catch {
                #expect(error.kind == .noAnswer)
                return error.description
            }
        }
        #expect(message(#"{"protocol":"2.1","ok":true}"#)?.contains("speaks control protocol 2.1, this xigmp 1.3") == true)
        #expect(message(#"{"ok":true,"active_outside":"primary"}"#)?.contains("older control protocol") == true)
        #expect(message("")?.contains("closed the connection without a reply") == true)
        #expect(message("{")?.contains("unreadable reply (1 bytes)") == true)
        // Same major, newer minor, with a field this build does not know: read.
        #expect(message(#"{"protocol":"1.4","ok":true,"added_later":1}"#) == nil)
    }

    @Test("versions parse as major.minor and nothing else")
    func versions() {
        #expect(ProtocolVersion("1.0") == ProtocolVersion(major: 1, minor: 0))
        #expect(ProtocolVersion("12.34")?.description == "12.34")
        for bad in ["1", "1.", ".1", "1.0.0", "-1.0", "a.b", "1.٣", "+1.0", "99999999.0", ""] { #expect(ProtocolVersion(bad) == nil) }
    }
}
