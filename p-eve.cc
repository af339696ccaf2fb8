// p-eve.cc: Eve, before she turns to attacks: the same as Alice, in
// another colour. The p-eve-*.cc programs are Eve trying one attack each.
#include "u-eve.hh"

void process_main() {
    eve_count(0);
}
