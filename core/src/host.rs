//! Host-level facts a connection reports before any snapshot call: node
//! information (`virNodeGetInfo`), the
//! capabilities and sysinfo XML, and the connection's security flags.
//!
//! As libvirt 9.0: the test driver reports its fixed fake host (i686,
//! 16 CPUs in 2 NUMA cells, 3 GiB); the qemu driver reports this machine,
//! computed the way libvirt's `virHostCPUGetInfo` / `virHostMemGetInfo` do
//! (`/proc/meminfo`, `/proc/cpuinfo`, sysfs topology).
//! Since: virsnap 0.1.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::Path;

use crate::connect::Connection;
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// libvirt's `virNodeInfo` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// CPU model (`uname -m` for a real host), at most 31 bytes.
    pub model: String,
    /// Memory size in KiB.
    pub memory: u64,
    /// Number of active CPUs.
    pub cpus: u32,
    /// Expected CPU frequency in MHz (0 when unknown).
    pub mhz: u32,
    /// NUMA cells (1 for uniform memory access).
    pub nodes: u32,
    /// CPU sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// The test driver's fixed node (libvirt's `defaultNodeInfo`).
fn test_node() -> NodeInfo {
    NodeInfo {
        model: "i686".to_owned(),
        memory: 3 * 1024 * 1024,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    }
}

/// Reads a small host file (procfs/sysfs), at most 1 MiB.
fn read_small(p: &Path) -> Option<String> {
    let f = fs::File::open(p).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(1 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

fn read_u32(p: &Path) -> Option<u32> {
    read_small(p)?.trim().parse().ok()
}

/// CPU ids listed as "0-3,5" (sysfs list format).
fn parse_cpu_list(s: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a..=b.min(a.saturating_add(65535)));
                }
            }
            None => {
                if let Ok(a) = part.parse() {
                    out.insert(a);
                }
            }
        }
    }
    out
}

/// This machine's node information, computed as libvirt's qemu driver does.
fn host_node() -> Result<NodeInfo> {
    let sys_err = |what: &str| {
        Error::new(
            ErrorCode::SystemError,
            ErrorDomain::None,
            format!("cannot read {what}"),
        )
    };
    // `uname -m` of the host this library was built for.
    let model = std::env::consts::ARCH.to_owned();
    let meminfo = read_small(Path::new("/proc/meminfo")).ok_or_else(|| sys_err("/proc/meminfo"))?;
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| sys_err("MemTotal in /proc/meminfo"))?;
    // "cpu MHz : 2599.998" -> 2599, as libvirt parses only the integer part.
    let mhz = read_small(Path::new("/proc/cpuinfo"))
        .and_then(|c| {
            c.lines()
                .filter(|l| l.starts_with("cpu MHz"))
                .find_map(|l| l.split_once(':').map(|(_, v)| v.trim().to_owned()))
        })
        .and_then(|v| v.split('.').next().and_then(|i| i.parse().ok()))
        .unwrap_or(0);

    let sys = Path::new("/sys/devices/system");
    let online = read_small(&sys.join("cpu/online"))
        .map(|s| parse_cpu_list(&s))
        .unwrap_or_default();
    let cpus = if online.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    } else {
        online.len() as u32
    };
    // NUMA nodes that hold CPUs.
    let mut node_cpus: Vec<BTreeSet<u32>> = Vec::new();
    if let Ok(rd) = fs::read_dir(sys.join("node")) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.strip_prefix("node").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
                let list = read_small(&e.path().join("cpulist"))
                    .map(|s| parse_cpu_list(&s))
                    .unwrap_or_default();
                let list: BTreeSet<u32> = list.intersection(&online).copied().collect();
                if !list.is_empty() {
                    node_cpus.push(list);
                }
            }
        }
    }
    if node_cpus.is_empty() {
        node_cpus.push(online.clone());
    }
    // Per node: distinct sockets, cores per socket and threads per core;
    // libvirt keeps the largest of each over the nodes.
    let (mut sockets, mut cores, mut threads) = (0u32, 0u32, 0u32);
    for list in &node_cpus {
        let mut socks: BTreeSet<u32> = BTreeSet::new();
        let mut core_ids: BTreeSet<(u32, u32)> = BTreeSet::new();
        for cpu in list {
            let top = sys.join(format!("cpu/cpu{cpu}/topology"));
            let s = read_u32(&top.join("physical_package_id")).unwrap_or(0);
            let c = read_u32(&top.join("core_id")).unwrap_or(*cpu);
            socks.insert(s);
            core_ids.insert((s, c));
        }
        let n_sock = socks.len().max(1) as u32;
        let per_sock = (core_ids.len() as u32).div_ceil(n_sock).max(1);
        let per_core = (list.len() as u32).div_ceil(core_ids.len().max(1) as u32).max(1);
        sockets = sockets.max(n_sock);
        cores = cores.max(per_sock);
        threads = threads.max(per_core);
    }
    let mut nodes = node_cpus.len() as u32;
    // As libvirt: a topology that does not multiply out to the CPU count
    // is reported flat.
    if nodes * sockets * cores * threads != cpus {
        nodes = 1;
        sockets = 1;
        cores = cpus;
        threads = 1;
    }
    Ok(NodeInfo {
        model,
        memory,
        cpus,
        mhz,
        nodes,
        sockets,
        cores,
        threads,
    })
}

/// Node information of the connection's host (`virNodeGetInfo`).
pub fn node_info(conn: &Connection) -> Result<NodeInfo> {
    if let Some(r) = conn.driver().as_remote() {
        return r.node_info();
    }
    match conn.type_name().to_ascii_uppercase().as_str() {
        "TEST" => Ok(test_node()),
        _ => host_node(),
    }
}

/// Free memory of the host in bytes (`virNodeGetFreeMemory`): the test
/// driver's fixed 3145728 (libvirt's sum of its fake cells' free memory);
/// for qemu the NUMA nodes' MemFree (else /proc/meminfo's), as libvirt's
/// `virHostMemGetFreeMemory`.
pub fn free_memory(conn: &Connection) -> Result<u64> {
    if let Some(r) = conn.driver().as_remote() {
        return r.free_memory();
    }
    match conn.type_name().to_ascii_uppercase().as_str() {
        "TEST" => Ok(3_145_728),
        "QEMU" => host_free_memory(),
        _ => Err(Error::no_support("virNodeGetFreeMemory")),
    }
}

fn mem_free_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        // "MemFree:  123 kB" or, per node, "Node 0 MemFree:  123 kB"
        let (_, v) = l.split_once("MemFree:")?;
        v.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

fn host_free_memory() -> Result<u64> {
    let mut total = 0u64;
    let mut found = false;
    if let Ok(rd) = fs::read_dir("/sys/devices/system/node") {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.strip_prefix("node").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
                if let Some(kib) = read_small(&e.path().join("meminfo")).as_deref().and_then(mem_free_kib) {
                    total += kib * 1024;
                    found = true;
                }
            }
        }
    }
    if found {
        return Ok(total);
    }
    read_small(Path::new("/proc/meminfo"))
        .as_deref()
        .and_then(mem_free_kib)
        .map(|kib| kib * 1024)
        .ok_or_else(|| Error::new(ErrorCode::SystemError, ErrorDomain::None, "cannot read MemFree in /proc/meminfo"))
}

/// True for connections libvirt reports as encrypted (`virConnectIsEncrypted`):
/// only the ESX driver talks over the network (https).
pub fn is_encrypted(conn: &Connection) -> bool {
    if conn.driver().as_remote().is_some() {
        return conn.uri().split("://").next().is_some_and(|s| s.ends_with("+tls") || s.ends_with("+ssh"));
    }
    conn.type_name().eq_ignore_ascii_case("ESX") && !conn.uri().contains("transport=http&") && !conn.uri().ends_with("transport=http")
}

/// The host name as libvirt's `virGetHostname` (what the test, qemu and
/// vbox drivers answer to `virConnectGetHostname`): `gethostname(2)`,
/// returned as it is when it has a dot or starts with "localhost", else
/// replaced by its canonical name from `getaddrinfo(3)` unless that fails
/// or starts with "localhost". Since 0.3.
pub fn hostname() -> Result<String> {
    // glibc's AI_CANONIDN (not in the libc crate), as libvirt passes it.
    const AI_CANONIDN: i32 = 0x0080;
    let short = dns_lookup::get_hostname().map_err(|e| Error::system(ErrorDomain::None, "failed to determine host name", &e))?;
    if short.starts_with("localhost") || short.contains('.') {
        return Ok(short);
    }
    let hints = dns_lookup::AddrInfoHints { flags: libc::AI_CANONNAME | AI_CANONIDN, ..dns_lookup::AddrInfoHints::default() };
    let canon = dns_lookup::getaddrinfo(Some(&short), None, Some(hints))
        .ok()
        .and_then(|mut it| it.next())
        .and_then(|first| first.ok())
        .and_then(|ai| ai.canonname);
    Ok(match canon {
        Some(c) if !c.starts_with("localhost") => c,
        _ => short,
    })
}

/// `virConnectGetHostname` of `conn`: the ESX host's DNS name as its
/// server reports it (libvirt's `esxConnectGetHostname`), else this
/// machine's name ([`hostname`]). Since 0.3.
pub fn hostname_of(conn: &Connection) -> Result<String> {
    conn.driver().host_name().unwrap_or_else(hostname)
}

/// The most virtual CPUs a guest of `kind` may have
/// (`virConnectGetMaxVcpus`): the test driver's 32 for any type; qemu's 16
/// for no type or `qemu`, KVM's own limit for `kvm` (`KVM_CAP_MAX_VCPUS`,
/// else `KVM_CAP_NR_VCPUS`, else 4), `VIR_ERR_INVALID_ARG` for another type.
/// Since 0.3.
pub fn max_vcpus(conn: &Connection, kind: Option<&str>) -> Result<i32> {
    if let Some(r) = conn.driver().as_remote() {
        return r.max_vcpus(kind);
    }
    match conn.type_name().to_ascii_uppercase().as_str() {
        "TEST" => Ok(32),
        #[cfg(feature = "qemu")]
        "QEMU" => match kind {
            None => Ok(16),
            Some(k) if k.eq_ignore_ascii_case("qemu") => Ok(16),
            Some(k) if k.eq_ignore_ascii_case("kvm") => {
                let kvm = kvm_ioctls::Kvm::new().map_err(|e| {
                    let io = std::io::Error::from_raw_os_error(e.errno());
                    Error::system(ErrorDomain::None, "Unable to open /dev/kvm", &io)
                })?;
                Ok(i32::try_from(kvm.get_max_vcpus()).unwrap_or(i32::MAX))
            }
            Some(k) => Err(Error::invalid_arg(ErrorDomain::Qemu, format!("unknown type '{k}'"))),
        },
        _ => Err(Error::no_support("virConnectGetMaxVcpus")),
    }
}

/// [`sysinfo`] with libvirt's flag check first (no flag is defined: any
/// is "unsupported flags" from the driver's function). Since 0.3.
pub fn sysinfo_flags(conn: &Connection, flags: u32) -> Result<String> {
    if flags != 0 {
        match conn.type_name().to_ascii_uppercase().as_str() {
            "TEST" => return Err(Error::unsupported_flags(ErrorDomain::Test, flags, "testConnectGetSysinfo")),
            "QEMU" => return Err(Error::unsupported_flags(ErrorDomain::Qemu, flags, "qemuConnectGetSysinfo")),
            _ => {}
        }
    }
    sysinfo(conn)
}

/// The test driver's `<sysinfo>` (libvirt's fixed sample); other drivers
/// have no host SMBIOS data here.
pub fn sysinfo(conn: &Connection) -> Result<String> {
    if let Some(r) = conn.driver().as_remote() {
        return r.sysinfo(0);
    }
    match conn.type_name().to_ascii_uppercase().as_str() {
        "TEST" => Ok(TEST_SYSINFO.to_owned()),
        "QEMU" => Err(Error::new(
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Qemu,
            "Host SMBIOS information is not available",
        )),
        _ => Err(Error::no_support("virConnectGetSysinfo")),
    }
}

const TEST_SYSINFO: &str = "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>LENOVO</entry>\n    <entry name='version'>G4ETA1WW (2.61 )</entry>\n    <entry name='date'>05/07/2014</entry>\n    <entry name='release'>2.61</entry>\n  </bios>\n</sysinfo>\n";

/// The capabilities XML of the connection (`virConnectGetCapabilities`).
///
/// The test driver's is libvirt's fixed fake host; the qemu driver's
/// describes this host (arch, NUMA topology) and the x86_64 hvm guest
/// virsnap runs with `qemu-system-x86_64` (a subset of libvirt's, which
/// also lists every machine type and emulator QEMU reports).
pub fn capabilities(conn: &Connection) -> Result<String> {
    if let Some(r) = conn.driver().as_remote() {
        return r.capabilities();
    }
    match conn.type_name().to_ascii_uppercase().as_str() {
        "TEST" => Ok(test_capabilities()),
        "QEMU" => qemu_capabilities(),
        _ => Err(Error::no_support("virConnectGetCapabilities")),
    }
}

fn test_capabilities() -> String {
    let mut s = String::from(
        "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n      <features>\n        <pae/>\n        <nonpae/>\n      </features>\n",
    );
    for size in [4, 8, 2048, 1048576] {
        s.push_str(&format!("      <pages unit='KiB' size='{size}'/>\n"));
    }
    s.push_str("    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n    <topology>\n      <cells num='2'>\n");
    for cell in 0..2u32 {
        let mem = 2097152u64 << cell;
        s.push_str(&format!("        <cell id='{cell}'>\n          <memory unit='KiB'>{mem}</memory>\n"));
        s.push_str(&format!(
            "          <pages unit='KiB' size='{}'>524288</pages>\n",
            4 << cell
        ));
        s.push_str("          <pages unit='KiB' size='2048'>0</pages>\n          <pages unit='KiB' size='1048576'>0</pages>\n          <cpus num='8'>\n");
        for i in 0..8u32 {
            let id = cell * 8 + i;
            s.push_str(&format!(
                "            <cpu id='{id}' socket_id='{cell}' die_id='0' core_id='{i}' siblings='{id}'/>\n"
            ));
        }
        s.push_str("          </cpus>\n        </cell>\n");
    }
    s.push_str("      </cells>\n    </topology>\n    <secmodel>\n      <model>testSecurity</model>\n      <doi></doi>\n    </secmodel>\n  </host>\n\n");
    for os in ["hvm", "xen"] {
        s.push_str(&format!(
            "  <guest>\n    <os_type>{os}</os_type>\n    <arch name='i686'>\n      <wordsize>32</wordsize>\n      <emulator>/usr/bin/test-hv</emulator>\n      <domain type='test'/>\n    </arch>\n    <features>\n      <pae/>\n      <nonpae/>\n    </features>\n  </guest>\n\n"
        ));
    }
    s.push_str("</capabilities>\n");
    s
}

fn qemu_capabilities() -> Result<String> {
    let n = host_node()?;
    let emulator = ["/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/usr/bin/qemu-system-x86_64");
    let kvm = Path::new("/dev/kvm").exists();
    let mut s = format!(
        "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>{}</arch>\n    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n    <topology>\n      <cells num='1'>\n        <cell id='0'>\n          <memory unit='KiB'>{}</memory>\n          <cpus num='{}'>\n",
        n.model, n.memory, n.cpus
    );
    for i in 0..n.cpus {
        s.push_str(&format!("            <cpu id='{i}'/>\n"));
    }
    s.push_str("          </cpus>\n        </cell>\n      </cells>\n    </topology>\n  </host>\n\n");
    s.push_str(&format!(
        "  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'>\n      <wordsize>64</wordsize>\n      <emulator>{emulator}</emulator>\n      <machine>pc</machine>\n      <machine>q35</machine>\n      <domain type='qemu'/>\n{}    </arch>\n    <features>\n      <acpi default='on' toggle='yes'/>\n      <apic default='on' toggle='no'/>\n      <cpuselection/>\n      <deviceboot/>\n      <disksnapshot default='on' toggle='no'/>\n    </features>\n  </guest>\n\n</capabilities>\n",
        if kvm { "      <domain type='kvm'/>\n" } else { "" }
    ));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let v: Vec<u32> = parse_cpu_list("0-2,5,7-8\n").into_iter().collect();
        assert_eq!(v, vec![0, 1, 2, 5, 7, 8]);
        assert!(parse_cpu_list("").is_empty());
    }

    #[test]
    fn host_node_multiplies_out() {
        let n = host_node().expect("host node info");
        assert_eq!(n.nodes * n.sockets * n.cores * n.threads, n.cpus);
        assert!(n.memory > 0);
    }
}
