import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import IGMPWire

extension DatapathChoice: ExpressibleByArgument {}

/// Opens the port a packet tool asked for, saying which one it got.
enum PortOpening {
    /// Opens a port on `ifname`. `receive` false asks for a transmit-only
    /// port (the XDP one then leaves the interface's XDP state alone).
    /// With `auto`, an interface whose AF_XDP queues are busy (a running
    /// daemon) falls back to the kernel path for sending.
    static func open(ifname: String, choice: DatapathChoice, receive: Bool, force: Bool = false,
                     mode: ClassifierControl.ModeRequest = .auto) throws(DatapathError) -> any IGMPPort {
        let iface = try NetworkInterface(named: ifname)
        let info = try InterfaceInfo(iface)
        let kind = try choice.resolve(for: info)
        switch kind {
        case .kernel:
            return try KernelPort(interface: iface, captureAllGroups: receive)
        case .xdp:
            var options = XDPPort.Options()
            options.receive = receive
            options.force = force
            options.mode = mode
            do {
                let port = try XDPPort(interface: iface, options: options)
                for n in port.notes { printNote(n) }
                return port
            } catch where choice == .auto && !receive && error.errno == EBUSY_CODE {
                printNote("AF_XDP queue 0 of \(ifname) is busy (a running xigmp?): sending through the kernel path")
                return try KernelPort(interface: iface, captureAllGroups: false)
            }
        }
    }
}

let EBUSY_CODE: Int32 = 16
