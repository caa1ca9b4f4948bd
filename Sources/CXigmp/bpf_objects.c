// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpf_objects.c - the compiled BPF objects, embedded so `xigmp` is one
 * self-contained file.  `make` compiles the bpf/ sources and writes their bytes
 * to generated/bpf_objects.inc (never committed).  A bare `swift build`
 * still links; the Swift side then reports that the object is missing.
 */
#include <string.h>
#include "cxigmp.h"

#if __has_include("generated/bpf_objects.inc")
#include "generated/bpf_objects.inc"
#else
#define CXIGMP_NO_OBJECTS 1
#endif

const unsigned char *cxigmp_embedded_object(const char *name, size_t *len)
{
	*len = 0;
#ifndef CXIGMP_NO_OBJECTS
	if (strcmp(name, "igmp_classify") == 0) {
		*len = sizeof(cxigmp_obj_igmp_classify);
		return cxigmp_obj_igmp_classify;
	}
	if (strcmp(name, "igmp_egress") == 0) {
		*len = sizeof(cxigmp_obj_igmp_egress);
		return cxigmp_obj_igmp_egress;
	}
	if (strcmp(name, "xdp_pass") == 0) {
		*len = sizeof(cxigmp_obj_xdp_pass);
		return cxigmp_obj_xdp_pass;
	}
#endif
	(void)name;
	return NULL;
}
