/* The PAC script (see pac_script.h). Tables go out as JavaScript data: an
 * address range table as the sorted hex starts of its ranges and a
 * verdict for each (0 none, 1 direct, 2 proxy), the starts compared as
 * strings of equal length (8 hex digits for IPv4, 32 for IPv6); a name
 * table as two objects, exact names and domains. */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/domains.h"
#include "sockgate/prefix_table.h"
#include "pac_script.h"

/* The script's own code: hex forms of address literals, the lookups, and
 * FindProxyForURL over the tables written before it. */
static const char pac_code[] =
    "function sgHex4(h) {\n"
    "  var p = h.split('.'), s = '';\n"
    "  if (p.length != 4) return null;\n"
    "  for (var i = 0; i < 4; i++) {\n"
    "    if (!/^[0-9]{1,3}$/.test(p[i]) || +p[i] > 255) return null;\n"
    "    s += ('0' + (+p[i]).toString(16)).slice(-2);\n"
    "  }\n"
    "  return s;\n"
    "}\n"
    "function sgGroups(s) {\n"
    "  if (s === '') return [];\n"
    "  var g = s.split(':'), out = [];\n"
    "  for (var i = 0; i < g.length; i++) {\n"
    "    if (i == g.length - 1 && g[i].indexOf('.') >= 0) {\n"
    "      var v = sgHex4(g[i]);\n"
    "      if (v === null) return null;\n"
    "      out.push(v.substring(0, 4), v.substring(4));\n"
    "    } else if (/^[0-9a-f]{1,4}$/.test(g[i])) {\n"
    "      out.push(('000' + g[i]).slice(-4));\n"
    "    } else return null;\n"
    "  }\n"
    "  return out;\n"
    "}\n"
    "function sgHex6(h) {\n"
    "  var parts = h.split('::');\n"
    "  if (h.indexOf(':') < 0 || parts.length > 2) return null;\n"
    "  var a = sgGroups(parts[0]), b = parts.length > 1 ? sgGroups(parts[1]) : [];\n"
    "  if (a === null || b === null) return null;\n"
    "  if (parts.length == 1) return a.length == 8 ? a.join('') : null;\n"
    "  if (a.length + b.length > 7) return null;\n"
    "  for (var z = []; a.length + b.length + z.length < 8;) z.push('0000');\n"
    "  return a.concat(z, b).join('');\n"
    "}\n"
    "function sgRange(s, v, k) {\n"
    "  var lo = 0, hi = s.length;\n"
    "  if (!hi) return 0;\n"
    "  while (hi - lo > 1) {\n"
    "    var m = (lo + hi) >> 1;\n"
    "    if (s[m] <= k) lo = m; else hi = m;\n"
    "  }\n"
    "  return v[lo];\n"
    "}\n"
    "function sgName(t, h) {\n"
    "  if (t.x.hasOwnProperty(h)) return t.x[h];\n"
    "  for (var n = h;;) {\n"
    "    if (t.d.hasOwnProperty(n)) return t.d[n];\n"
    "    var i = n.indexOf('.');\n"
    "    if (i < 0) return 0;\n"
    "    n = n.substring(i + 1);\n"
    "  }\n"
    "}\n"
    "function sgLookup(t, h, k) {\n"
    "  if (k === null) return sgName(t, h);\n"
    "  return k.length == 8 ? sgRange(t.s4, t.v4, k) : sgRange(t.s6, t.v6, k);\n"
    "}\n"
    "function sgPort(url) {\n"
    "  var m = /^([a-z0-9+.-]+):\\/\\/(\\[[^\\]]*\\]|[^\\/:?#]*)(:([0-9]+))?/i.exec(url);\n"
    "  if (m && m[4]) return +m[4];\n"
    "  return m && m[1].toLowerCase() == 'https' ? 443 : 80;\n"
    "}\n"
    "function FindProxyForURL(url, host) {\n"
    "  var h = host.toLowerCase();\n"
    "  if (h.charAt(0) == '[') h = h.substring(1, h.length - 1);\n"
    "  if (h.charAt(h.length - 1) == '.') h = h.substring(0, h.length - 1);\n"
    "  var k = sgHex4(h);\n"
    "  if (k === null) k = sgHex6(h);\n"
    "  if (k !== null && sgLookup(sgBypass, h, k) == 1) return 'DIRECT';\n"
    "  if (k === null && h.indexOf('.') < 0) return 'DIRECT';\n"
    "  var port = sgPort(url), v = 0;\n"
    "  for (var i = 0; i < sgRules.length; i++) {\n"
    "    var r = sgRules[i];\n"
    "    if (r.lo && (port < r.lo || port > r.hi)) continue;\n"
    "    if (r.to && !sgLookup(r.to, h, k)) continue;\n"
    "    return r.v == 1 ? 'DIRECT' : sgProxy;\n"
    "  }\n"
    "  v = sgLookup(sgRoutes, h, k);\n"
    "  for (var j = 0; !v && k === null && j < sgKeywords.length; j++)\n"
    "    if (h.indexOf(sgKeywords[j][0]) >= 0) v = sgKeywords[j][1];\n"
    "  return (v || sgDefault) == 1 ? 'DIRECT' : sgProxy;\n"
    "}\n";

/* What an entry's value says: routes hold upstreams, other tables only
 * presence (or "not bypassed"). */
enum value_kind { VALUES_UPSTREAMS, VALUES_PRESENCE };

static const char not_bypassed[] = "not bypassed";

static int verdict_of(enum value_kind kind, const void *value)
{
	if (!value || value == not_bypassed)
		return 0;
	if (kind == VALUES_PRESENCE)
		return 1;
	return ((const struct upstream *)value)->url.kind == UPSTREAM_DIRECT ? 1 : 2;
}

static int upstream_verdict(const struct upstream *up)
{
	return verdict_of(VALUES_UPSTREAMS, up);
}

struct range_out {
	FILE *out;
	enum value_kind kind;
	int starts; /* 1: writing the starts, 0: the verdicts */
	size_t n;
};

static void put_range(const uint8_t *start, size_t len, const void *value, void *arg)
{
	struct range_out *ro = arg;

	fputs(ro->n++ ? "," : "", ro->out);
	if (ro->starts) {
		fputc('\'', ro->out);
		for (size_t i = 0; i < len; i++)
			fprintf(ro->out, "%02x", start[i]);
		fputc('\'', ro->out);
	} else {
		fprintf(ro->out, "%d", verdict_of(ro->kind, value));
	}
}

struct name_out {
	FILE *out;
	enum value_kind kind;
	int exact;
	size_t n;
};

static void put_name(const char *name, size_t len, int exact, const void *value, void *arg)
{
	struct name_out *no = arg;

	if (exact != no->exact)
		return;
	/* table names are LDH and '_' only: nothing to escape */
	fprintf(no->out, "%s'%.*s':%d", no->n++ ? "," : "", (int)len, name,
		verdict_of(no->kind, value));
}

/* {s4:[...], v4:[...], s6:[...], v6:[...], x:{...}, d:{...}} */
static void put_table(FILE *out, const struct prefix_table *addrs, const struct domain_table *names,
		      enum value_kind kind)
{
	static const char *const keys[2][2] = { { "s4", "v4" }, { "s6", "v6" } };

	fputc('{', out);
	for (int f = 0; f < 2; f++) {
		for (int starts = 1; starts >= 0; starts--) {
			struct range_out ro = { out, kind, starts, 0 };
			fprintf(out, "%s%s:[", f || !starts ? "," : "", keys[f][!starts]);
			prefix_table_each_range(addrs, f ? AF_INET6 : AF_INET, put_range, &ro);
			fputc(']', out);
		}
	}
	for (int exact = 1; exact >= 0; exact--) {
		struct name_out no = { out, kind, exact, 0 };
		fprintf(out, ",%s:{", exact ? "x" : "d");
		domain_table_each(names, put_name, &no);
		fputc('}', out);
	}
	fputc('}', out);
}

/* A JavaScript string literal of s (keywords may hold any byte). */
static void put_string(FILE *out, const char *s)
{
	fputc('\'', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\' || c == '<')
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('\'', out);
}

/* The router's bypass: always, private (unless off), [intake] bypass;
 * the fake-IP pools never. */
static struct prefix_table *bypass_table(const struct config *cfg)
{
	static const char held[] = "held";
	struct prefix_table *t = prefix_table_new();
	struct cidr c;
	int rc = t ? 0 : -1;

	if (!rc && cfg->dns.fakeip && cfg->dns.fakeip4.family)
		rc = prefix_table_add(t, &cfg->dns.fakeip4, not_bypassed);
	if (!rc && cfg->dns.fakeip && cfg->dns.fakeip6.family)
		rc = prefix_table_add(t, &cfg->dns.fakeip6, not_bypassed);
	for (size_t i = 0; !rc && i < config_n_always_bypass; i++)
		if (cidr_parse(config_always_bypass[i], &c) == 0)
			rc = prefix_table_add(t, &c, held);
	for (size_t i = 0; !rc && cfg->bypass_private && i < config_n_private_bypass; i++)
		if (cidr_parse(config_private_bypass[i], &c) == 0)
			rc = prefix_table_add(t, &c, held);
	for (size_t i = 0; !rc && i < cfg->n_bypass; i++)
		rc = prefix_table_add(t, &cfg->bypass[i], held);
	if (rc || prefix_table_build(t) < 0) {
		prefix_table_free(t);
		return NULL;
	}
	return t;
}

/* [route] rules that may hold for this browser: "from" is judged here
 * (by address; a rule naming only MAC addresses cannot be), "port" and
 * "to" by the script. */
static void put_rules(FILE *out, const struct config *cfg, const struct sockaddr_storage *client)
{
	size_t n = 0;

	fputs("var sgRules = [", out);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct route_rule *r = &cfg->rules[i];
		if (r->by_src && !prefix_table_lookup(r->src, client))
			continue;
		fprintf(out, "%s\n {lo:%u,hi:%u,v:%d,to:", n++ ? "," : "", r->port_lo, r->port_hi,
			upstream_verdict(r->upstream));
		if (r->by_dst)
			put_table(out, r->dst, r->dst_names, VALUES_PRESENCE);
		else
			fputs("null", out);
		fputc('}', out);
	}
	fputs("];\n", out);
}

int pac_script_write(const struct config *cfg, const struct sockaddr_storage *client,
		     const char *proxy, FILE *out)
{
	struct prefix_table *bypass = bypass_table(cfg);

	if (!bypass)
		return -1;
	fputs("// Proxy auto-config from sockgate: what the router's bypass lists and [route]\n"
	      "// send direct goes DIRECT, the rest through the router's proxy port.\n",
	      out);
	fputs("var sgProxy = ", out);
	{
		char text[600];
		snprintf(text, sizeof(text), "SOCKS5 %s%s%s%s", proxy,
			 cfg->socks.http ? "; PROXY " : "", cfg->socks.http ? proxy : "",
			 cfg->pac.fallback_direct ? "; DIRECT" : "");
		put_string(out, text);
	}
	fprintf(out,
		";\nvar sgDefault = %d;\nvar sgBypass = ", upstream_verdict(cfg->default_upstream));
	put_table(out, bypass, NULL, VALUES_PRESENCE);
	fputs(";\nvar sgRoutes = ", out);
	put_table(out, cfg->dst_routes, cfg->domain_routes, VALUES_UPSTREAMS);
	fputs(";\nvar sgKeywords = [", out);
	for (size_t i = 0; i < cfg->n_keywords; i++) {
		fputs(i ? "," : "", out);
		fputc('[', out);
		put_string(out, cfg->keywords[i].word);
		fprintf(out, ",%d]", upstream_verdict(cfg->keywords[i].upstream));
	}
	fputs("];\n", out);
	put_rules(out, cfg, client);
	fputs(pac_code, out);
	prefix_table_free(bypass);
	return ferror(out) ? -1 : 0;
}
