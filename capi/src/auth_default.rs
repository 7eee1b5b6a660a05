//! `virConnectAuthPtrDefault`: libvirt's one public data symbol, the
//! default authentication for command-line programs. Its callback prompts
//! on the C `stdout` and reads answers from the C `stdin` (echoed: user
//! name, realm, echo prompts) or, for passphrases, through `getpass(3)`
//! (the terminal, without echo), exactly as libvirt 9.0's
//! `virConnectAuthCallbackDefault`.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;

use crate::types::{virConnectAuth, virConnectAuthPtr, virConnectCredentialPtr};

const VIR_CRED_USERNAME: c_int = 1;
const VIR_CRED_AUTHNAME: c_int = 2;
const VIR_CRED_ECHOPROMPT: c_int = 6;
const VIR_CRED_NOECHOPROMPT: c_int = 7;
const VIR_CRED_REALM: c_int = 8;
const VIR_CRED_PASSPHRASE: c_int = 5;
const VIR_CRED_EXTERNAL: c_int = 9;

unsafe extern "C" {
    /// glibc's standard streams, shared with the calling program so its own
    /// buffered output and input stay in order with the prompts.
    static mut stdin: *mut libc::FILE;
    static mut stdout: *mut libc::FILE;
    /// Reads a passphrase from the controlling terminal without echo
    /// (falls back to stdin/stderr when there is none).
    fn getpass(prompt: *const c_char) -> *mut c_char;
}

/// The credential types the default callback answers (libvirt leaves out
/// `VIR_CRED_USERNAME`: it would prompt for the user name twice).
static mut CRED_TYPES: [c_int; 6] = [
    VIR_CRED_AUTHNAME,
    VIR_CRED_ECHOPROMPT,
    VIR_CRED_REALM,
    VIR_CRED_PASSPHRASE,
    VIR_CRED_NOECHOPROMPT,
    VIR_CRED_EXTERNAL,
];

static mut AUTH_DEFAULT: virConnectAuth = virConnectAuth {
    // SAFETY (of the address): only the address of the static is taken.
    credtype: &raw mut CRED_TYPES as *mut c_int,
    ncredtype: 6,
    cb: Some(auth_callback_default),
    cbdata: ptr::null_mut(),
};

/// libvirt's default authentication (`virConnectAuthPtrDefault`), for
/// `virConnectOpenAuth(uri, virConnectAuthPtrDefault, flags)`.
///
/// Ownership: points to a static owned by the library; never free it.
/// Since: libvirt 0.4.0.
#[unsafe(no_mangle)]
pub static mut virConnectAuthPtrDefault: virConnectAuthPtr = &raw mut AUTH_DEFAULT;

/// Prints `"<prompt>: "` on the C stdout and flushes it.
///
/// # Safety
/// `prompt` must be NULL or a NUL-terminated string.
unsafe fn show_prompt(prompt: *const c_char) -> bool {
    // SAFETY: glibc initializes its standard streams before any user code.
    let out = unsafe { stdout };
    let text = if prompt.is_null() {
        c"(null)".as_ptr()
    } else {
        prompt
    };
    // SAFETY: `out` is glibc's stdout and `text` a NUL-terminated string.
    unsafe { libc::fputs(text, out) >= 0 && libc::fputs(c": ".as_ptr(), out) >= 0 && libc::fflush(out) == 0 }
}

/// Reads one line of at most 1023 bytes from the C stdin, without its
/// newline. EOF before any byte reads as "". `None` on a read error.
fn read_line() -> Option<Vec<u8>> {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: glibc initializes its standard streams before any user code.
    let inp = unsafe { stdin };
    // SAFETY: `buf` is a live buffer of the given size; `inp` is stdin.
    let got = unsafe { libc::fgets(buf.as_mut_ptr(), buf.len() as c_int, inp) };
    if got.is_null() {
        // SAFETY: as above.
        return if unsafe { libc::feof(inp) } != 0 { Some(Vec::new()) } else { None };
    }
    // SAFETY: fgets NUL-terminated `buf`.
    let mut line = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec();
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Some(line)
}

fn malloc_bytes(b: &[u8]) -> *mut c_char {
    // SAFETY: malloc returns NULL or `len + 1` writable bytes.
    let p = unsafe { libc::malloc(b.len() + 1) }.cast::<c_char>();
    if !p.is_null() {
        // SAFETY: `p` has room for the bytes and the NUL; no overlap.
        unsafe {
            ptr::copy_nonoverlapping(b.as_ptr().cast::<c_char>(), p, b.len());
            *p.add(b.len()) = 0;
        }
    }
    p
}

/// libvirt's `virConnectAuthCallbackDefault`.
///
/// # Safety
/// `cred` must point to `ncred` credentials (libvirt's contract).
unsafe extern "C" fn auth_callback_default(
    cred: virConnectCredentialPtr,
    ncred: c_uint,
    _cbdata: *mut c_void,
) -> c_int {
    if cred.is_null() && ncred > 0 {
        return -1;
    }
    for i in 0..ncred as usize {
        // SAFETY: `cred` holds `ncred` entries per the contract.
        let c = unsafe { &mut *cred.add(i) };
        let answer: Option<Vec<u8>> = match c.r#type {
            VIR_CRED_EXTERNAL => {
                // Only PolicyKit is accepted (the user may have
                // authenticated outside libvirt); nothing to fill in.
                let polkit = !c.challenge.is_null()
                    // SAFETY: non-NULL challenge strings are NUL-terminated.
                    && unsafe { CStr::from_ptr(c.challenge) }.to_bytes() == b"PolicyKit";
                if !polkit {
                    return -1;
                }
                continue;
            }
            VIR_CRED_USERNAME | VIR_CRED_AUTHNAME | VIR_CRED_ECHOPROMPT | VIR_CRED_REALM => {
                // SAFETY: prompts are NULL or NUL-terminated strings.
                if !unsafe { show_prompt(c.prompt) } {
                    return -1;
                }
                match read_line() {
                    Some(l) => Some(l),
                    None => return -1,
                }
            }
            VIR_CRED_PASSPHRASE | VIR_CRED_NOECHOPROMPT => {
                // SAFETY: as above.
                if !unsafe { show_prompt(c.prompt) } {
                    return -1;
                }
                // SAFETY: getpass takes a NUL-terminated prompt and returns
                // a static buffer (or NULL), which we copy at once.
                let p = unsafe { getpass(c"".as_ptr()) };
                if p.is_null() {
                    // libvirt crashes here (STREQ on NULL); fail instead.
                    return -1;
                }
                // SAFETY: getpass returned a NUL-terminated string.
                Some(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
            }
            _ => return -1,
        };
        let answer = answer.filter(|a| !a.is_empty());
        let result = match answer {
            Some(a) => malloc_bytes(&a),
            None if !c.defresult.is_null() => {
                // SAFETY: a non-NULL defresult is NUL-terminated.
                malloc_bytes(unsafe { CStr::from_ptr(c.defresult) }.to_bytes())
            }
            None => malloc_bytes(b""),
        };
        if result.is_null() {
            return -1;
        }
        c.result = result;
        // SAFETY: `result` was just NUL-terminated by malloc_bytes.
        c.resultlen = unsafe { libc::strlen(result) } as c_uint;
    }
    0
}
