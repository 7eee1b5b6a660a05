/*
 * libvirt-domain-snapshot.h: compatibility header of virsnap.
 *
 * Lets sources written for libvirt (#include <libvirt/libvirt-domain-snapshot.h>) compile
 * unchanged with -Iinclude: it includes virsnap.h, which declares the
 * subset of libvirt's API that virsnap implements, with libvirt's exact
 * prototypes and enum values.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VIRSNAP_COMPAT_LIBVIRT_DOMAIN_SNAPSHOT_H
#define VIRSNAP_COMPAT_LIBVIRT_DOMAIN_SNAPSHOT_H
#include "../virsnap.h"
#endif
