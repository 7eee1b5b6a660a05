//! Domain jobs: what `virDomainGetJobInfo` / `virDomainGetJobStats`
//! report about a long snapshot operation, and the flags of those calls.
//! Since 0.2.

/// `virDomainJobType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(i32)]
pub enum JobType {
    /// No job (`VIR_DOMAIN_JOB_NONE`).
    #[default]
    None = 0,
    /// A job with a known end (`VIR_DOMAIN_JOB_BOUNDED`).
    Bounded = 1,
    /// A job without a known end (`VIR_DOMAIN_JOB_UNBOUNDED`).
    Unbounded = 2,
    /// The last job, finished (`VIR_DOMAIN_JOB_COMPLETED`).
    Completed = 3,
    /// The last job, failed (`VIR_DOMAIN_JOB_FAILED`).
    Failed = 4,
    /// The last job, aborted (`VIR_DOMAIN_JOB_CANCELLED`).
    Cancelled = 5,
}

impl JobType {
    /// The type for its `virDomainJobType` number (unknown → `None`).
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => Self::Bounded,
            2 => Self::Unbounded,
            3 => Self::Completed,
            4 => Self::Failed,
            5 => Self::Cancelled,
            _ => Self::None,
        }
    }
}

/// `virDomainJobOperation` values of the operations virsnap runs as jobs.
pub mod operation {
    /// `VIR_DOMAIN_JOB_OPERATION_UNKNOWN`
    pub const UNKNOWN: i32 = 0;
    /// `VIR_DOMAIN_JOB_OPERATION_SNAPSHOT`
    pub const SNAPSHOT: i32 = 6;
    /// `VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT`
    pub const SNAPSHOT_REVERT: i32 = 7;
    /// `VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_DELETE`
    pub const SNAPSHOT_DELETE: i32 = 10;
}

/// `virDomainGetJobStatsFlags`.
pub mod stats_flags {
    /// `VIR_DOMAIN_JOB_STATS_COMPLETED`: the last completed job.
    pub const COMPLETED: u32 = 1;
    /// `VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED`: do not forget it once read.
    pub const KEEP_COMPLETED: u32 = 2;
}

/// One job's figures. `None` figures are not reported (not in the typed
/// parameters; zero in `virDomainJobInfo`). Owned plain data. Since 0.2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    /// The job type; `None` when no job runs (every other field empty).
    pub kind: JobType,
    /// `virDomainJobOperation` (see [`operation`]).
    pub operation: i32,
    /// Milliseconds since the job started (until it ended, for a completed job).
    pub time_elapsed_ms: u64,
    /// Estimated milliseconds left (bounded jobs only).
    pub time_remaining_ms: Option<u64>,
    /// Bytes to transfer in all (`data_total`).
    pub data_total: Option<u64>,
    /// Bytes transferred (`data_processed`).
    pub data_processed: Option<u64>,
    /// Bytes left (`data_remaining`).
    pub data_remaining: Option<u64>,
    /// Guest memory bytes in all (`memory_total`).
    pub memory_total: Option<u64>,
    /// Guest memory bytes saved or loaded (`memory_processed`).
    pub memory_processed: Option<u64>,
    /// Guest memory bytes left (`memory_remaining`).
    pub memory_remaining: Option<u64>,
    /// Whether a completed job succeeded (`success`, completed stats only).
    pub success: Option<bool>,
    /// Why a completed job failed (`errmsg`).
    pub errmsg: Option<String>,
}

/// One typed parameter's value (`virTypedParameter`'s union, the kinds a
/// job reports). Since 0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// `VIR_TYPED_PARAM_INT`
    Int(i32),
    /// `VIR_TYPED_PARAM_ULLONG`
    ULLong(u64),
    /// `VIR_TYPED_PARAM_BOOLEAN`
    Bool(bool),
    /// `VIR_TYPED_PARAM_STRING`
    Str(String),
}

impl JobStats {
    /// The typed parameters of `virDomainGetJobStats`, in libvirt's order
    /// (none for no job). Since 0.2.
    pub fn params(&self) -> Vec<(&'static str, ParamValue)> {
        if self.kind == JobType::None {
            return Vec::new();
        }
        let mut p = vec![("operation", ParamValue::Int(self.operation)), ("time_elapsed", ParamValue::ULLong(self.time_elapsed_ms))];
        let figures = [
            ("time_remaining", self.time_remaining_ms),
            ("data_total", self.data_total),
            ("data_processed", self.data_processed),
            ("data_remaining", self.data_remaining),
            ("memory_total", self.memory_total),
            ("memory_processed", self.memory_processed),
            ("memory_remaining", self.memory_remaining),
        ];
        p.extend(figures.into_iter().filter_map(|(k, v)| v.map(|v| (k, ParamValue::ULLong(v)))));
        if let Some(m) = &self.errmsg {
            p.push(("errmsg", ParamValue::Str(m.clone())));
        }
        if let Some(s) = self.success {
            p.push(("success", ParamValue::Bool(s)));
        }
        p
    }
}
