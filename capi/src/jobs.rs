//! Domain jobs: `virDomainGetJobInfo`, `virDomainGetJobStats`,
//! `virDomainAbortJob`, and the typed-parameter release calls their caller
//! needs (`virTypedParamsFree` / `virTypedParamsClear`).

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong};

use virsnap_core::job::{JobStats, ParamValue};
use virsnap_core::{Error, ErrorCode, ErrorDomain};

use crate::boundary::{self, entry};
use crate::handles;
use crate::types::virDomainPtr;

const DOM: ErrorDomain = ErrorDomain::Domain;

/// `virDomainJobInfo`, filled by `virDomainGetJobInfo`. Layout as libvirt's.
#[repr(C)]
#[derive(Debug, Default)]
pub struct _virDomainJobInfo {
    /// One of `virDomainJobType`.
    pub r#type: c_int,
    /// Milliseconds since the job started.
    pub timeElapsed: c_ulonglong,
    /// Milliseconds left (bounded jobs).
    pub timeRemaining: c_ulonglong,
    /// Data bytes in all.
    pub dataTotal: c_ulonglong,
    /// Data bytes done.
    pub dataProcessed: c_ulonglong,
    /// Data bytes left.
    pub dataRemaining: c_ulonglong,
    /// Memory bytes in all.
    pub memTotal: c_ulonglong,
    /// Memory bytes done.
    pub memProcessed: c_ulonglong,
    /// Memory bytes left.
    pub memRemaining: c_ulonglong,
    /// File bytes in all.
    pub fileTotal: c_ulonglong,
    /// File bytes done.
    pub fileProcessed: c_ulonglong,
    /// File bytes left.
    pub fileRemaining: c_ulonglong,
}
/// `virDomainJobInfo`.
pub type virDomainJobInfo = _virDomainJobInfo;
/// Pointer to a caller-owned `virDomainJobInfo`.
pub type virDomainJobInfoPtr = *mut virDomainJobInfo;

/// `VIR_TYPED_PARAM_FIELD_LENGTH`.
pub const VIR_TYPED_PARAM_FIELD_LENGTH: usize = 80;

/// `virTypedParameter`'s value union.
#[repr(C)]
#[derive(Clone, Copy)]
pub union _virTypedParameterValue {
    /// `VIR_TYPED_PARAM_INT`
    pub i: c_int,
    /// `VIR_TYPED_PARAM_UINT`
    pub ui: c_uint,
    /// `VIR_TYPED_PARAM_LLONG`
    pub l: i64,
    /// `VIR_TYPED_PARAM_ULLONG`
    pub ul: c_ulonglong,
    /// `VIR_TYPED_PARAM_DOUBLE`
    pub d: f64,
    /// `VIR_TYPED_PARAM_BOOLEAN`
    pub b: c_char,
    /// `VIR_TYPED_PARAM_STRING` (malloc'd; freed by `virTypedParamsFree`)
    pub s: *mut c_char,
}

/// `virTypedParameter`. Layout as libvirt's.
#[repr(C)]
pub struct _virTypedParameter {
    /// NUL-terminated name.
    pub field: [c_char; VIR_TYPED_PARAM_FIELD_LENGTH],
    /// One of `virTypedParameterType`.
    pub r#type: c_int,
    /// The value, by `type`.
    pub value: _virTypedParameterValue,
}
/// `virTypedParameterPtr`.
pub type virTypedParameterPtr = *mut _virTypedParameter;

const PARAM_INT: c_int = 1;
const PARAM_ULLONG: c_int = 4;
const PARAM_BOOLEAN: c_int = 6;
const PARAM_STRING: c_int = 7;

fn fill_info(info: &mut virDomainJobInfo, s: &JobStats) {
    let v = |o: Option<u64>| o.unwrap_or(0);
    *info = virDomainJobInfo {
        r#type: s.kind as c_int,
        timeElapsed: s.time_elapsed_ms,
        timeRemaining: v(s.time_remaining_ms),
        dataTotal: v(s.data_total),
        dataProcessed: v(s.data_processed),
        dataRemaining: v(s.data_remaining),
        memTotal: v(s.memory_total),
        memProcessed: v(s.memory_processed),
        memRemaining: v(s.memory_remaining),
        ..virDomainJobInfo::default()
    };
}

/// The current job's figures (`virDomainGetJobInfo`).
///
/// Returns: 0, or −1. Since: libvirt 0.7.7.
///
/// # Safety
/// `domain` is a registry key; `info` must be NULL or a writable `virDomainJobInfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetJobInfo(domain: virDomainPtr, info: virDomainJobInfoPtr) -> c_int {
    const F: &str = "virDomainGetJobInfo";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        if info.is_null() {
            return Err(boundary::null_arg(F, "info", DOM));
        }
        // SAFETY: non-NULL and writable per the contract.
        let out = unsafe { &mut *info };
        *out = virDomainJobInfo::default();
        let s = d.dom.job_info()?;
        fill_info(out, &s);
        Ok(0)
    })
}

/// A malloc'd array of `params` as `virTypedParameter`s (NULL for none).
fn out_params(params: &[(&str, ParamValue)]) -> Result<virTypedParameterPtr, Error> {
    if params.is_empty() {
        return Ok(std::ptr::null_mut());
    }
    // SAFETY: calloc returns zeroed memory for the array or NULL.
    let arr = unsafe { libc::calloc(params.len(), std::mem::size_of::<_virTypedParameter>()) }.cast::<_virTypedParameter>();
    if arr.is_null() {
        return Err(Error::bare(ErrorCode::NoMemory, ErrorDomain::None));
    }
    for (i, (name, v)) in params.iter().enumerate() {
        // SAFETY: `i` is within the `params.len()` elements allocated above.
        let p = unsafe { &mut *arr.add(i) };
        for (dst, src) in p.field.iter_mut().zip(name.bytes().take(VIR_TYPED_PARAM_FIELD_LENGTH - 1)) {
            *dst = src as c_char;
        }
        match v {
            ParamValue::Int(x) => {
                p.r#type = PARAM_INT;
                p.value.i = *x;
            }
            ParamValue::ULLong(x) => {
                p.r#type = PARAM_ULLONG;
                p.value.ul = *x;
            }
            ParamValue::Bool(x) => {
                p.r#type = PARAM_BOOLEAN;
                p.value.b = c_char::from(*x);
            }
            ParamValue::Str(x) => match boundary::out_string(x) {
                Ok(s) => {
                    p.r#type = PARAM_STRING;
                    p.value.s = s;
                }
                Err(e) => {
                    // SAFETY: `arr` holds `params.len()` initialised (zeroed or filled) entries.
                    unsafe { virTypedParamsFree(arr, params.len() as c_int) };
                    return Err(e);
                }
            },
        }
    }
    Ok(arr)
}

/// The current (or last completed) job's type and typed parameters
/// (`virDomainGetJobStats`); the caller frees `*params` with
/// `virTypedParamsFree`.
///
/// Returns: 0, or −1. Since: libvirt 1.0.3.
///
/// # Safety
/// `domain` is a registry key; `type_`, `params`, `nparams` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainGetJobStats(
    domain: virDomainPtr,
    type_: *mut c_int,
    params: *mut virTypedParameterPtr,
    nparams: *mut c_int,
    flags: c_uint,
) -> c_int {
    const F: &str = "virDomainGetJobStats";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        for (p, n) in [(type_.is_null(), "type"), (params.is_null(), "params"), (nparams.is_null(), "nparams")] {
            if p {
                return Err(boundary::null_arg(F, n, DOM));
            }
        }
        let s = d.dom.job_stats(flags)?;
        let list = s.params();
        let arr = out_params(&list)?;
        // SAFETY: all three are non-NULL and writable per the contract.
        unsafe {
            *type_ = s.kind as c_int;
            *params = arr;
            *nparams = list.len() as c_int;
        }
        Ok(0)
    })
}

/// Aborts the domain's current job (`virDomainAbortJob`); returns once it
/// has stopped with nothing of it left.
///
/// Returns: 0, or −1. Since: libvirt 0.7.7.
///
/// # Safety
/// `domain` may be any value; it is only used as a registry key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virDomainAbortJob(domain: virDomainPtr) -> c_int {
    const F: &str = "virDomainAbortJob";
    entry(F, || {
        let d = handles::domain(domain, F)?;
        d.dom.abort_job()?;
        Ok(0)
    })
}

/// Frees the strings of `nparams` parameters at `params` (`virTypedParamsClear`).
///
/// Since: libvirt 1.0.2.
///
/// # Safety
/// `params` is NULL or points to `nparams` parameters whose strings were malloc'd.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virTypedParamsClear(params: virTypedParameterPtr, nparams: c_int) {
    if params.is_null() {
        return;
    }
    for i in 0..usize::try_from(nparams).unwrap_or(0) {
        // SAFETY: `i < nparams` elements per the contract.
        let p = unsafe { &mut *params.add(i) };
        if p.r#type == PARAM_STRING {
            // SAFETY: a string parameter's pointer is malloc'd or NULL.
            unsafe {
                libc::free(p.value.s.cast());
                p.value.s = std::ptr::null_mut();
            }
        }
    }
}

/// Frees `nparams` parameters at `params` and the array (`virTypedParamsFree`).
///
/// Since: libvirt 1.0.2.
///
/// # Safety
/// `params` is NULL or a malloc'd array of `nparams` parameters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn virTypedParamsFree(params: virTypedParameterPtr, nparams: c_int) {
    // SAFETY: as the contract above.
    unsafe {
        virTypedParamsClear(params, nparams);
        libc::free(params.cast());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_parameter_layout_is_libvirts() {
        assert_eq!(std::mem::size_of::<super::_virTypedParameter>(), 96);
        assert_eq!(std::mem::size_of::<super::virDomainJobInfo>(), 96);
    }
}
