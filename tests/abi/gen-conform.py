#!/usr/bin/env python3
"""ABI conformance inputs, generated from include/virsnap.h and Debian's
libvirt-dev headers (/usr/include/libvirt/libvirt.h).

Writes into OUTDIR:
  libvirt-prototypes.h  libvirt's own declaration (preprocessed Debian header)
                        of every libvirt function virsnap.h declares;
                        conform.c includes virsnap.h and then this file, so a
                        differing signature is a "conflicting types" error.
  enum_dump.c           prints every enum constant virsnap.h defines that
                        libvirt also defines, and the size and field offsets
                        of the shared structs. Built once with -Iinclude and
                        once against /usr/include; the outputs must be equal.
Usage: gen-conform.py REPO_ROOT OUTDIR
"""
import pathlib
import re
import subprocess
import sys

root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
ours = (root / "include" / "virsnap.h").read_text()
# strip comments
ours_code = re.sub(r"/\*.*?\*/", "", ours, flags=re.S)
funcs = sorted(set(re.findall(r"^[A-Za-z_][\w \*]*?\b(vir\w+)\s*\(", ours_code, flags=re.M)))
funcs = [f for f in funcs if not f.startswith("virsnap")]

pre = subprocess.run(["cc", "-E", "-P", "-x", "c", "-"], input="#include <libvirt/libvirt.h>\n#include <libvirt/virterror.h>\n",
                     capture_output=True, text=True, check=True).stdout
# split the preprocessed text into top-level declarations
decls = [d.strip() + ";" for d in re.sub(r"\s+", " ", pre).split(";")]
protos, missing = [], []
for f in funcs:
    pat = re.compile(r"^(extern )?[\w\s\*]+?\b%s\s*\(" % re.escape(f))
    found = [d for d in decls if pat.match(d) and "typedef" not in d and "{" not in d]
    if found:
        protos.append(found[0])
    else:
        missing.append(f)
(out / "libvirt-prototypes.h").write_text(
    "/* libvirt 9.0's declarations of the functions virsnap implements (generated). */\n"
    + "\n".join(protos) + "\n")
(out / "extensions.txt").write_text("\n".join(missing) + "\n")

# enum constants defined in our enums and also known to libvirt
consts = []
for body in re.findall(r"typedef enum \w*\s*\{(.*?)\}", ours_code, flags=re.S):
    consts += re.findall(r"\b(VIR_\w+)\s*=", body)
consts += re.findall(r"#define (VIR_\w+|LIBVIR_VERSION_NUMBER) ", ours_code)
known = set(re.findall(r"\b(VIR_\w+|LIBVIR_VERSION_NUMBER)\b", pre))
sysmacros = subprocess.run(["cc", "-E", "-dM", "-x", "c", "-"], input="#include <libvirt/libvirt.h>\n#include <libvirt/virterror.h>\n",
                           capture_output=True, text=True, check=True).stdout
known |= set(re.findall(r"#define (VIR_\w+|LIBVIR_VERSION_NUMBER)\b", sysmacros))
shared = [c for c in dict.fromkeys(consts) if c in known]
ext_consts = [c for c in dict.fromkeys(consts) if c not in known]
lines = ["#pragma GCC diagnostic ignored \"-Wdeprecated-declarations\"", "#include <stdio.h>", "#include <stddef.h>", "#include <libvirt/libvirt.h>",
         "#include <libvirt/virterror.h>", "int main(void) {"]
for c in shared:
    lines.append('    printf("%s %%lld\\n", (long long)%s);' % (c, c))
structs = {
    "virError": ["code", "domain", "message", "level", "conn", "dom", "str1", "str2", "str3", "int1", "int2", "net"],
    "virDomainInfo": ["state", "maxMem", "memory", "nrVirtCpu", "cpuTime"],
    "virConnectAuth": ["credtype", "ncredtype", "cb", "cbdata"],
    "virConnectCredential": ["type", "prompt", "challenge", "defresult", "result", "resultlen"],
}
for s, fields in structs.items():
    lines.append('    printf("sizeof(%s) %%zu\\n", sizeof(%s));' % (s, s))
    for f in fields:
        lines.append('    printf("offsetof(%s, %s) %%zu\\n", offsetof(%s, %s));' % (s, f, s, f))
lines += ["    return 0;", "}"]
(out / "enum_dump.c").write_text("\n".join(lines) + "\n")
print("%d prototypes, %d extension functions (%s), %d shared constants, %d extension constants"
      % (len(protos), len(missing), " ".join(missing), len(shared), len(ext_consts)))
