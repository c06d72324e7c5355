/* options_md.c — prints the options table (interpose/options.def) as the Markdown table the
 * README shows. interpose_options_md compares its output with interpose/OPTIONS.md; after
 * adding a row to options.def, regenerate that file with
 *     cmake --build <build> --target interpose_options_md_update
 */
#include <stdio.h>
#include <string.h>

/* A table cell: '|' must be escaped in Markdown tables. */
static void cell(const char *s, int code)
{
    fputs(" ", stdout);
    if (code && *s)
        fputs("`", stdout);
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\", stdout);
        putchar(*s);
    }
}

static void row(const char *env, const char *type, const char *def, const char *unit,
                const char *help)
{
    fputs("|", stdout);
    cell(env, 1), fputs("` |", stdout);
    cell(type + strlen("HMT_OPT_"), 0), fputs(" |", stdout);
    if (*def)
        cell(def, 1), fputs("` |", stdout);
    else
        fputs(" |", stdout);
    cell(unit, 0), fputs(" |", stdout);
    cell(help, 0), fputs(" |\n", stdout);
}

int main(void)
{
    puts("<!-- Generated from interpose/options.def by test/interpose/options_md.c; do not edit. -->");
    puts("| Variable | Type | Default | Unit | Meaning |");
    puts("|---|---|---|---|---|");
#define HMT_OPT(id, env, type, def, unit, help) row(env, #type, def, unit, help);
#include "options.def"
#undef HMT_OPT
    return 0;
}
