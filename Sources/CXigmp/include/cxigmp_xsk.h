/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cxigmp_xsk.h - AF_XDP shims for the XDP port. */
#ifndef CXIGMP_XSK_H
#define CXIGMP_XSK_H

#endif /* CXIGMP_XSK_H */
