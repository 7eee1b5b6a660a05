/*
 * virterror.h: compatibility header of virsnap.
 *
 * Lets sources written for libvirt (#include <libvirt/virterror.h>) compile
 * unchanged with -Iinclude: it includes virsnap.h, which declares the
 * subset of libvirt's API that virsnap implements, with libvirt's exact
 * prototypes and enum values.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VIRSNAP_COMPAT_VIRTERROR_H
#define VIRSNAP_COMPAT_VIRTERROR_H
#include "../virsnap.h"
#endif
