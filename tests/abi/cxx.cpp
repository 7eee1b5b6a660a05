// The header compiles as C++ (and twice), and the compat headers with it.
#include <virsnap.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <virsnap.h>

int main() {
    virDomainSnapshotPtr (*f)(virDomainPtr, const char *, unsigned int) = virDomainSnapshotCreateXML;
    virErrorPtr e = virGetLastError();
    return (f != nullptr && e == nullptr) ? 0 : 1;
}
