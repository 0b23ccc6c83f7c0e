//! Finding a GPU: adapters from the environment (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`), a device
//! with the adapter's own limits, and errors a user can act on.

use crate::error::{Error, Result};

/// What a user needs to know about an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Adapter name, e.g. `NVIDIA H100` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl, BrowserWebGpu.
    pub backend: String,
    /// Driver name and version.
    pub driver: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (software) or Other.
    pub device_type: String,
    /// True for software rasterisers such as llvmpipe.
    pub software: bool,
    /// `max_storage_buffer_binding_size` in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// `max_buffer_size` in bytes.
    pub max_buffer_size: u64,
    /// `max_storage_buffers_per_shader_stage`.
    pub max_storage_buffers_per_shader_stage: u32,
    /// `max_compute_workgroups_per_dimension`.
    pub max_compute_workgroups_per_dimension: u32,
    /// `max_compute_workgroup_storage_size` in bytes.
    pub max_compute_workgroup_storage_size: u32,
}

/// Backends to search: `WGPU_BACKEND` if set, else the primary compute-capable APIs (Vulkan,
/// Metal, DX12, WebGPU). GL is opt-in (`WGPU_BACKEND=gl`): its compute support is limited and
/// probing it prints noise on headless machines.
fn backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY)
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    desc.backends = backends();
    wgpu::Instance::new(desc)
}

pub(crate) fn summary(a: &wgpu::Adapter) -> AdapterSummary {
    let info = a.get_info();
    let l = a.limits();
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        device_type: format!("{:?}", info.device_type),
        software: info.device_type == wgpu::DeviceType::Cpu,
        max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
        max_buffer_size: l.max_buffer_size,
        max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
        max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
    }
}

fn adapters() -> Vec<wgpu::Adapter> {
    let inst = instance();
    pollster::block_on(inst.enumerate_adapters(backends()))
}

/// Every adapter wgpu can see (after `WGPU_BACKEND` filtering).
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters().iter().map(summary).collect()
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// The message for "no adapter".
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found. Install a Vulkan driver (on Debian/Ubuntu without a GPU: \
     `apt-get install mesa-vulkan-drivers libvulkan1` gives the llvmpipe software adapter), \
     or use the CPU backend (`--backend cpu`; for the tests, VOLLEY_TEST_BACKENDS=cpu)";

/// Picks an adapter: the one whose name contains `WGPU_ADAPTER_NAME` if set, else the best by
/// type (discrete > integrated > virtual > other > software). With `hardware_only`, software
/// adapters are never chosen (`Ok(None)` then means "no hardware GPU").
pub(crate) fn pick_adapter(hardware_only: bool) -> Result<Option<wgpu::Adapter>> {
    let mut all = adapters();
    if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
        let want = want.to_lowercase();
        let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
        return match all
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&want))
        {
            Some(a) => Ok(Some(a)),
            None => Err(Error::Backend {
                backend: "gpu".into(),
                reason: format!(
                    "WGPU_ADAPTER_NAME={want:?} matches none of the adapters found: {names:?}"
                ),
            }),
        };
    }
    all.retain(|a| !hardware_only || a.get_info().device_type != wgpu::DeviceType::Cpu);
    all.sort_by_key(|a| rank(a.get_info().device_type));
    Ok(all.into_iter().next())
}

/// An open device.
pub(crate) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
}

/// Opens a device on `adapter`, asking for the adapter's own limits.
pub(crate) fn open(adapter: wgpu::Adapter) -> Result<Gpu> {
    let summary = summary(&adapter);
    let limits = adapter.limits();
    let desc = wgpu::DeviceDescriptor {
        label: Some("volley"),
        required_features: wgpu::Features::empty(),
        required_limits: limits.clone(),
        memory_hints: wgpu::MemoryHints::Performance,
        ..Default::default()
    };
    let (device, queue) =
        pollster::block_on(adapter.request_device(&desc)).map_err(|e| Error::Backend {
            backend: "gpu".into(),
            reason: format!("could not open a device on adapter {}: {e}", summary.name),
        })?;
    Ok(Gpu {
        device,
        queue,
        summary,
        limits,
    })
}
