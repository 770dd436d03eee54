/*
 * ring_bench.c - how many keys move when one destination of the proxy's ring
 * (Go's consistent hash: CRC32-IEEE, 20 replicas) goes away: the fraction of
 * 200 000 metric keys whose owner changes when one of 3, 10 or 100 globals is
 * removed, beside the ideal 1/N. Keys owned by the removed global must move;
 * a key that moves between two survivors is counted separately (should be 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/ring.h"

int main(void)
{
    enum { KEYS = 200000 };
    static const size_t sizes[] = {3, 10, 100};
    uint32_t *hashes = malloc(KEYS * sizeof *hashes);
    for (int k = 0; k < KEYS; k++) {
        char key[64];
        int n = snprintf(key, sizeof key, "app.request.latency%dhistogramroute:/r%d", k % 997, k);
        hashes[k] = vn_ring_hash(key, (size_t)n);
    }
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        char (*names)[32] = calloc(n, sizeof *names);
        const char **addrs = calloc(n, sizeof *addrs);
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "10.0.%zu.%zu:8128", i / 250, i % 250);
            addrs[i] = names[i];
        }
        vn_ring_t *full = vn_ring_new(addrs, NULL, n);
        vn_ring_t *less = vn_ring_new(addrs + 1, NULL, n - 1); /* the first global is gone */
        long moved = 0, stray = 0, owned = 0;
        for (int k = 0; k < KEYS; k++) {
            const char *before = vn_ring_member_addr(full, (size_t)vn_ring_owner(full, hashes[k]));
            const char *after = vn_ring_member_addr(less, (size_t)vn_ring_owner(less, hashes[k]));
            if (strcmp(before, after) != 0) {
                moved++;
                if (strcmp(before, addrs[0]) != 0)
                    stray++;
            }
            owned += strcmp(before, addrs[0]) == 0;
        }
        printf("bench=ring_rehash destinations=%zu removed=1 keys=%d moved_fraction=%.4f ideal=%.4f "
               "removed_share=%.4f moved_between_survivors=%ld\n",
               n, KEYS, (double)moved / KEYS, 1.0 / (double)n, (double)owned / KEYS, stray);
        vn_ring_free(full);
        vn_ring_free(less);
        free(addrs);
        free(names);
    }
    free(hashes);
    return 0;
}
