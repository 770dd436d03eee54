/*
 * fuzz_discovery.c - libFuzzer target for the discovery response parsers
 * (src/proxy/discovery.h, dns.h): every input is fed, as it is, to the
 * Consul parser, the Kubernetes Endpoints parser, the hosts_file lookup and
 * the DNS response reader (as an A, AAAA and SRV answer).
 *
 * Invariants: whatever a parser returns is an address the proxy can dial
 * ("host:port" that splits, port 1..65535, no spaces or control bytes), at
 * most VN_DISC_MAX_ADDRS of them; DNS records are at most
 * VN_DNS_MAX_RECORDS of the asked type with NUL-terminated names shorter
 * than VN_DNS_MAX_NAME;
 * a failed parse returns nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostport.h"
#include "proxy/discovery.h"
#include "proxy/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(vn_strlist_t *l, int ports_required)
{
    if (l->n > VN_DISC_MAX_ADDRS)
        abort();
    for (size_t i = 0; i < l->n; i++) {
        const char *a = l->v[i];
        for (const char *p = a; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        if (ports_required) {
            char host[256], port[16];
            if (vn_hostport_split(a, false, host, sizeof host, port, sizeof port) != VN_OK)
                abort();
            long v = strtol(port, NULL, 10);
            if (v < 1 || v > 65535)
                abort();
        }
    }
    vn_disc_list_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    char err[256];
    vn_strlist_t l = {0};
    if (vn_disc_parse_consul(text, size, &l, err, sizeof err) != VN_OK && l.n)
        abort(); /* a malformed answer yields nothing */
    check_list(&l, 1);
    if (vn_disc_parse_k8s_endpoints(text, size, "grpc", &l, err, sizeof err) != VN_OK && l.n)
        abort();
    check_list(&l, 1);
    vn_disc_hosts_lookup(text, size, "globals.test", &l);
    if (l.n > VN_DISC_MAX_ADDRS)
        abort();
    vn_disc_list_free(&l);
    /* DNS: the answer parsed as each type discovery asks for (c-ares underneath, our bounds on top) */
    static const uint16_t types[] = {VN_DNS_A, VN_DNS_AAAA, VN_DNS_SRV};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        vn_dns_answer_t a;
        if (vn_dns_parse(data, size, types[t], &a) == VN_OK) {
            if (a.n == 0 || a.n > VN_DNS_MAX_RECORDS)
                abort();
            for (size_t i = 0; i < a.n; i++) {
                if (a.rr[i].type != types[t] || strlen(a.rr[i].target) >= VN_DNS_MAX_NAME)
                    abort();
                char ip[64];
                if (types[t] != VN_DNS_SRV)
                    vn_dns_format_addr(&a.rr[i], ip, sizeof ip);
            }
            vn_dns_answer_free(&a);
        } else if (a.rr || a.n) {
            abort();
        }
    }
    free(text);
    return 0;
}
