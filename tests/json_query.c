/* json_query FILE PATH: print the value at a dotted path ("per_class.2.f1") of a JSON file, for the shell
 * tests. Exit 1 when the file is not valid JSON or the path does not exist. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: json_query FILE PATH\n");
        return 2;
    }
    FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    if (!buf) return 1;
    if (f != stdin) fclose(f);
    cJSON *root = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (!root) {
        fprintf(stderr, "%s: not valid JSON\n", argv[1]);
        return 1;
    }
    const cJSON *node = root;
    char *path = strdup(argv[2]);
    for (char *seg = strtok(path, "."); seg && node; seg = strtok(NULL, "."))
        node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, atoi(seg))
                                   : cJSON_GetObjectItemCaseSensitive(node, seg);
    free(path);
    int rc = 0;
    if (!node) {
        fprintf(stderr, "%s: no %s\n", argv[1], argv[2]);
        rc = 1;
    } else if (cJSON_IsString(node))
        printf("%s\n", node->valuestring);
    else if (cJSON_IsNumber(node))
        printf("%.17g\n", node->valuedouble);
    else {
        char *s = cJSON_PrintUnformatted(node);
        printf("%s\n", s);
        free(s);
    }
    cJSON_Delete(root);
    return rc;
}
