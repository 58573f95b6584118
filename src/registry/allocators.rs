//! ClusterIP and NodePort allocation for Services, from `--service-cluster-ip-range` and
//! `--service-node-port-range`: no duplicates, explicit requests honoured when free, and
//! released when the Service goes.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// An IPv4 CIDR such as 10.96.0.0/12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (ip, prefix) =
            text.split_once('/').ok_or_else(|| format!("invalid CIDR {text:?}: missing prefix length"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("invalid CIDR {text:?}: only IPv4 ranges are supported"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 30)
            .ok_or_else(|| format!("invalid CIDR {text:?}: prefix length must be 0-30"))?;
        let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
        Ok(Cidr { base: Ipv4Addr::from(u32::from(ip) & mask), prefix })
    }

    fn size(self) -> u32 {
        1u32 << (32 - self.prefix as u32)
    }

    /// The first usable address (network + 1), which the `kubernetes` Service takes.
    pub fn first(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }

    fn offset_of(self, ip: Ipv4Addr) -> Option<u32> {
        let offset = u32::from(ip).wrapping_sub(u32::from(self.base));
        (offset > 0 && offset < self.size() - 1).then_some(offset)
    }
}

/// Why an allocation failed; the registry turns it into a 422 on the right field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationError {
    AlreadyAllocated,
    OutOfRange(String),
    Exhausted,
}

impl AllocationError {
    pub fn detail(&self) -> String {
        match self {
            AllocationError::AlreadyAllocated => "provided IP is already allocated".into(),
            AllocationError::OutOfRange(range) => {
                format!("provided IP is not in the valid range. The range of valid IPs is {range}")
            }
            AllocationError::Exhausted => "range is full".into(),
        }
    }
}

/// Hands out addresses from a CIDR.
#[derive(Debug)]
pub struct IpAllocator {
    range: Cidr,
    allocated: BTreeSet<u32>,
    next: u32,
}

impl IpAllocator {
    pub fn new(range: Cidr) -> Self {
        IpAllocator { range, allocated: BTreeSet::new(), next: 1 }
    }

    /// Takes `ip` if it is in range and free, or the next free address when `None`.
    pub fn allocate(&mut self, ip: Option<Ipv4Addr>) -> Result<Ipv4Addr, AllocationError> {
        let range_text = format!("{}/{}", self.range.base, self.range.prefix);
        let offset = match ip {
            Some(ip) => {
                let offset = self.range.offset_of(ip).ok_or(AllocationError::OutOfRange(range_text))?;
                if self.allocated.contains(&offset) {
                    return Err(AllocationError::AlreadyAllocated);
                }
                offset
            }
            None => {
                let usable = self.range.size() - 2;
                let found = (0..usable).map(|i| 1 + (self.next - 1 + i) % usable).find(|o| !self.allocated.contains(o));
                let offset = found.ok_or(AllocationError::Exhausted)?;
                self.next = offset % usable + 1;
                offset
            }
        };
        self.allocated.insert(offset);
        Ok(Ipv4Addr::from(u32::from(self.range.base) + offset))
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(offset) = self.range.offset_of(ip) {
            self.allocated.remove(&offset);
        }
    }
}

/// Hands out node ports from a range such as 30000-32767.
#[derive(Debug)]
pub struct PortAllocator {
    low: u16,
    high: u16,
    allocated: BTreeSet<u16>,
}

impl PortAllocator {
    pub fn parse_range(text: &str) -> Result<(u16, u16), String> {
        let (low, high) = text.split_once('-').ok_or_else(|| format!("invalid port range {text:?}"))?;
        let low: u16 = low.trim().parse().map_err(|_| format!("invalid port range {text:?}"))?;
        let high: u16 = high.trim().parse().map_err(|_| format!("invalid port range {text:?}"))?;
        if low > high {
            return Err(format!("invalid port range {text:?}"));
        }
        Ok((low, high))
    }

    pub fn new(low: u16, high: u16) -> Self {
        PortAllocator { low, high, allocated: BTreeSet::new() }
    }

    pub fn range_text(&self) -> String {
        format!("{}-{}", self.low, self.high)
    }

    pub fn allocate(&mut self, port: Option<u16>) -> Result<u16, AllocationError> {
        let port = match port {
            Some(port) if port < self.low || port > self.high => {
                return Err(AllocationError::OutOfRange(self.range_text()));
            }
            Some(port) if self.allocated.contains(&port) => return Err(AllocationError::AlreadyAllocated),
            Some(port) => port,
            None => (self.low..=self.high).find(|p| !self.allocated.contains(p)).ok_or(AllocationError::Exhausted)?,
        };
        self.allocated.insert(port);
        Ok(port)
    }

    pub fn release(&mut self, port: u16) {
        self.allocated.remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ips_come_from_the_range_without_duplicates() {
        let range = Cidr::parse("10.96.0.0/12").unwrap();
        assert_eq!(range.first(), Ipv4Addr::new(10, 96, 0, 1));
        let mut ips = IpAllocator::new(range);
        assert_eq!(ips.allocate(Some(range.first())).unwrap(), Ipv4Addr::new(10, 96, 0, 1));
        let next = ips.allocate(None).unwrap();
        assert_ne!(next, range.first());
        assert_eq!(ips.allocate(Some(next)), Err(AllocationError::AlreadyAllocated));
        ips.release(next);
        assert_eq!(ips.allocate(Some(next)).unwrap(), next);
        assert!(matches!(ips.allocate(Some(Ipv4Addr::new(192, 168, 0, 1))), Err(AllocationError::OutOfRange(_))));
    }

    #[test]
    fn small_ranges_run_out_cleanly() {
        let mut ips = IpAllocator::new(Cidr::parse("10.0.0.0/30").unwrap());
        assert!(ips.allocate(None).is_ok());
        assert!(ips.allocate(None).is_ok());
        assert_eq!(ips.allocate(None), Err(AllocationError::Exhausted));
    }

    #[test]
    fn node_ports() {
        let (low, high) = PortAllocator::parse_range("30000-32767").unwrap();
        let mut ports = PortAllocator::new(low, high);
        assert_eq!(ports.allocate(None).unwrap(), 30000);
        assert_eq!(ports.allocate(Some(30000)), Err(AllocationError::AlreadyAllocated));
        assert!(matches!(ports.allocate(Some(80)), Err(AllocationError::OutOfRange(_))));
    }
}
