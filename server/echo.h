/* echo.h - the bare Engine.IO echo layer (conformance app). */
#ifndef SG_ECHO_H
#define SG_ECHO_H

#include "engine.h"

extern const sg_eio_upper_t sg_echo_upper;

#endif
