// types.h: fixed-width integer types for a freestanding build, taken from
// the compiler's own predefined macros so that no C library header is used.
#ifndef WEENSYOS_TYPES_H
#define WEENSYOS_TYPES_H
typedef __INT8_TYPE__ int8_t;
typedef __UINT8_TYPE__ uint8_t;
typedef __INT16_TYPE__ int16_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __INT32_TYPE__ int32_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INTPTR_TYPE__ intptr_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef __SIZE_TYPE__ size_t;
#define UINTPTR_MAX __UINTPTR_MAX__
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef __INT64_TYPE__ ssize_t;
typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_end(ap) __builtin_va_end(ap)
#define va_copy(dst, src) __builtin_va_copy(dst, src)
#ifndef __cplusplus
#define nullptr ((void*) 0)
#endif
#endif
