// lib.cc: the library the kernel and every process link: string functions,
// pseudo-random numbers, printf, and printing to the CGA console. Processes
// print by writing the console page directly; it is the one kernel page
// mapped user-accessible.
#include "lib.hh"

// ---- Strings and memory ----
// The compiler may call these itself (for structure copies), so they are
// extern "C" and written as plain loops (built with
// -fno-tree-loop-distribute-patterns so GCC does not turn them back into
// calls to themselves).

extern "C" {
void* memcpy(void* dst, const void* src, size_t n) {
    auto d = static_cast<unsigned char*>(dst);
    auto s = static_cast<const unsigned char*>(src);
    for (size_t i = 0; i != n; ++i) {
        d[i] = s[i];
    }
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto d = static_cast<unsigned char*>(dst);
    auto s = static_cast<const unsigned char*>(src);
    if (d < s || d >= s + n) {
        return memcpy(dst, src, n);
    }
    while (n != 0) {
        --n;
        d[n] = s[n];
    }
    return dst;
}

void* memset(void* s, int c, size_t n) {
    auto p = static_cast<unsigned char*>(s);
    for (size_t i = 0; i != n; ++i) {
        p[i] = c;
    }
    return s;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto x = static_cast<const unsigned char*>(a);
    auto y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i != n; ++i) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') {
        ++n;
    }
    return n;
}

size_t strnlen(const char* s, size_t maxlen) {
    size_t n = 0;
    while (n != maxlen && s[n] != '\0') {
        ++n;
    }
    return n;
}

int strcmp(const char* a, const char* b) {
    for (;; ++a, ++b) {
        unsigned char x = *a, y = *b;
        if (x != y || x == '\0') {
            return x < y ? -1 : (x > y ? 1 : 0);
        }
    }
}
}

unsigned long strtoul(const char* s, const char** end, int base) {
    unsigned long v = 0;
    if (base == 0) {
        base = 10;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
        }
    }
    while (true) {
        int d;
        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (*s >= 'a' && *s <= 'z') {
            d = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'Z') {
            d = *s - 'A' + 10;
        } else {
            break;
        }
        if (d >= base) {
            break;
        }
        v = v * base + d;
        ++s;
    }
    if (end) {
        *end = s;
    }
    return v;
}

// ---- Pseudo-random numbers: xorshift64* (Vigna) ----
static uint64_t rand_state = 0x2545F4914F6CDD1DUL;

void rand_seed(uint64_t seed) {
    // A zero state would stay zero forever.
    rand_state = seed ? seed : 0x2545F4914F6CDD1DUL;
}

uint64_t rand64() {
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    return rand_state * 0x2545F4914F6CDD1DUL;
}

int rand(int min, int max) {
    uint64_t span = (uint64_t) ((int64_t) max - min) + 1;
    return (int) (min + (int64_t) (rand64() % span));
}

// ---- printf ----

namespace {
// ANSI colour index (black, red, green, yellow, blue, magenta, cyan, white)
// to CGA colour index (black, blue, green, cyan, red, magenta, brown, gray).
const uint8_t ansi_to_cga[8] = {0, 4, 2, 6, 1, 5, 3, 7};

// Parses a colour escape "\x1b[Nm" at `s`, updating `color`. Returns the
// number of characters consumed (0 if `s` is not an escape).
size_t parse_color(const char* s, int& color, int default_color) {
    if (s[0] != '\x1b' || s[1] != '[') {
        return 0;
    }
    const char* end;
    unsigned long code = strtoul(s + 2, &end, 10);
    if (*end != 'm') {
        return 0;
    }
    if (code == 0) {
        color = default_color;
    } else if (code >= 30 && code <= 37) {
        color = (color & 0xF000) | (ansi_to_cga[code - 30] << 8);
    } else if (code >= 90 && code <= 97) {
        color = (color & 0xF000) | ((ansi_to_cga[code - 90] | 8) << 8);
    }
    return end + 1 - s;
}

struct format_spec {
    bool left = false;      // '-'
    bool zero = false;      // '0'
    bool plus = false;      // '+'
    bool space = false;     // ' '
    bool alt = false;       // '#'
    int width = 0;
    int precision = -1;
    int length = 0;         // 0 int, 1 long, 2 long long, -1 short, -2 char
};

void emit_padded(printer* p, int color, const format_spec& f,
                 const char* prefix, const char* body, size_t bodylen,
                 int zeros) {
    size_t prefixlen = strlen(prefix);
    int pad = f.width - (int) (prefixlen + bodylen) - zeros;
    if (!f.left) {
        for (; pad > 0; --pad) {
            p->putc(' ', color);
        }
    }
    for (size_t i = 0; i != prefixlen; ++i) {
        p->putc(prefix[i], color);
    }
    for (; zeros > 0; --zeros) {
        p->putc('0', color);
    }
    for (size_t i = 0; i != bodylen; ++i) {
        p->putc(body[i], color);
    }
    for (; pad > 0; --pad) {
        p->putc(' ', color);
    }
}

void emit_number(printer* p, int color, const format_spec& f,
                 uint64_t v, bool negative, int base, bool upper,
                 const char* prefix) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    char* end = buf + sizeof(buf);
    char* s = end;
    do {
        *--s = digits[v % base];
        v /= base;
    } while (v != 0);
    if (f.precision == 0 && s[0] == '0' && end - s == 1) {
        s = end;
    }
    char pre[4] = {0, 0, 0, 0};
    size_t n = 0;
    if (negative) {
        pre[n++] = '-';
    } else if (f.plus) {
        pre[n++] = '+';
    } else if (f.space) {
        pre[n++] = ' ';
    }
    for (; *prefix; ++prefix) {
        pre[n++] = *prefix;
    }
    int len = end - s;
    int zeros = 0;
    if (f.precision > len) {
        zeros = f.precision - len;
    } else if (f.zero && !f.left && f.precision < 0) {
        zeros = f.width - len - (int) n;
    }
    emit_padded(p, color, f, pre, s, len, zeros);
}
}

void printer_vprintf(printer* p, int color, const char* format, va_list ap) {
    int default_color = color;
    for (const char* s = format; *s; ) {
        if (size_t n = parse_color(s, color, default_color)) {
            s += n;
            continue;
        }
        if (*s != '%') {
            p->putc(*s, color);
            ++s;
            continue;
        }
        ++s;
        format_spec f;
        for (;; ++s) {
            if (*s == '-') {
                f.left = true;
            } else if (*s == '0') {
                f.zero = true;
            } else if (*s == '+') {
                f.plus = true;
            } else if (*s == ' ') {
                f.space = true;
            } else if (*s == '#') {
                f.alt = true;
            } else {
                break;
            }
        }
        if (*s == '*') {
            f.width = va_arg(ap, int);
            if (f.width < 0) {
                f.left = true;
                f.width = -f.width;
            }
            ++s;
        } else {
            f.width = strtoul(s, &s, 10);
        }
        if (*s == '.') {
            ++s;
            if (*s == '*') {
                f.precision = va_arg(ap, int);
                ++s;
            } else {
                f.precision = strtoul(s, &s, 10);
            }
        }
        for (;; ++s) {
            if (*s == 'l' || *s == 'z' || *s == 'j' || *s == 't') {
                ++f.length;
            } else if (*s == 'h') {
                --f.length;
            } else {
                break;
            }
        }
        char conv = *s;
        if (conv == '\0') {
            break;
        }
        ++s;
        switch (conv) {
        case 'd':
        case 'i': {
            int64_t v = f.length > 0 ? va_arg(ap, long) : va_arg(ap, int);
            if (f.length == -1) {
                v = (short) v;
            } else if (f.length <= -2) {
                v = (signed char) v;
            }
            uint64_t mag = v < 0 ? -(uint64_t) v : (uint64_t) v;
            emit_number(p, color, f, mag, v < 0, 10, false, "");
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = f.length > 0 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            if (f.length == -1) {
                v = (unsigned short) v;
            } else if (f.length <= -2) {
                v = (unsigned char) v;
            }
            int base = conv == 'u' ? 10 : (conv == 'o' ? 8 : 16);
            const char* prefix = "";
            if (f.alt && base == 16 && v != 0) {
                prefix = conv == 'X' ? "0X" : "0x";
            } else if (f.alt && base == 8) {
                prefix = "0";
            }
            emit_number(p, color, f, v, false, base, conv == 'X', prefix);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t) va_arg(ap, void*);
            emit_number(p, color, f, v, false, 16, false, "0x");
            break;
        }
        case 's': {
            const char* str = va_arg(ap, const char*);
            if (!str) {
                str = "(null)";
            }
            size_t len = f.precision >= 0 ? strnlen(str, f.precision) : strlen(str);
            emit_padded(p, color, f, "", str, len, 0);
            break;
        }
        case 'c': {
            char c = va_arg(ap, int);
            emit_padded(p, color, f, "", &c, 1, 0);
            break;
        }
        default:
            p->putc(conv, color);
            break;
        }
    }
}

namespace {
struct string_printer : printer {
    char* s_;
    char* end_;
    size_t n_ = 0;
    string_printer(char* buf, size_t size)
        : s_(buf), end_(size ? buf + size - 1 : buf) {
    }
    void putc(unsigned char c, int) override {
        if (s_ < end_) {
            *s_++ = c;
        }
        ++n_;
    }
};
}

int vsnprintf(char* buf, size_t size, const char* format, va_list ap) {
    string_printer sp(buf, size);
    printer_vprintf(&sp, 0, format, ap);
    if (size != 0) {
        *sp.s_ = '\0';
    }
    return sp.n_;
}

int snprintf(char* buf, size_t size, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(buf, size, format, ap);
    va_end(ap);
    return n;
}

// ---- The console ----

int console_top() {
    int top = console_top_slot;
    return top >= 0 && top < CONSOLE_ROWS ? top : 0;
}

int console_cursor() {
    int pos = console_cursor_slot;
    if (pos < console_top() * CONSOLE_COLUMNS || pos > CONSOLE_ROWS * CONSOLE_COLUMNS) {
        pos = console_top() * CONSOLE_COLUMNS;
    }
    return pos;
}

namespace {
struct console_printer : printer {
    int top_ = console_top() * CONSOLE_COLUMNS;     // first cell of the region
    int pos_ = console_cursor();

    // Moves the region's rows up by one, leaving the rows above it alone.
    void scroll() {
        for (int i = top_; i != (CONSOLE_ROWS - 1) * CONSOLE_COLUMNS; ++i) {
            console[i] = console[i + CONSOLE_COLUMNS];
        }
        for (int i = (CONSOLE_ROWS - 1) * CONSOLE_COLUMNS;
             i != CONSOLE_ROWS * CONSOLE_COLUMNS; ++i) {
            console[i] = ' ' | COLOR_NORMAL;
        }
        pos_ -= CONSOLE_COLUMNS;
    }
    void putc(unsigned char c, int color) override {
        if (pos_ >= CONSOLE_ROWS * CONSOLE_COLUMNS) {
            scroll();
        }
        if (c == '\n') {
            pos_ += CONSOLE_COLUMNS - pos_ % CONSOLE_COLUMNS;
        } else {
            console[pos_++] = c | (color & 0xFF00);
        }
    }
};
}

void console_vprintf(int color, const char* format, va_list ap) {
    console_printer cp;
    printer_vprintf(&cp, color, format, ap);
    console_cursor_slot = cp.pos_;
}

void console_printf(int color, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    console_vprintf(color, format, ap);
    va_end(ap);
}

void console_printf(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    console_vprintf(COLOR_NORMAL, format, ap);
    va_end(ap);
}

void console_clear() {
    for (int i = 0; i != CONSOLE_ROWS * CONSOLE_COLUMNS; ++i) {
        console[i] = ' ' | COLOR_NORMAL;
    }
    console_top_slot = 0;
    console_cursor_slot = 0;
}
