#include "tls/html.hpp"

#include "tls/civil_time.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

namespace atsgate::tls::html {

using util::html_escape;

namespace {

// System fonts only: a page that loads nothing from anywhere works behind an SSH tunnel, offline,
// and under default-src 'none'.
constexpr std::string_view css = R"CSS(
:root{--fg:#1d2330;--muted:#5b6474;--bg:#f4f6f9;--card:#fff;--line:#dde2ea;--pass:#1a7f37;--warn:#9a6700;
--fail:#cf222e;--unknown:#6e40c9;--info:#0969da;--exempt:#1b7c83;--hs:#2f81f7;--ref:#cf222e;--wr:#d4a72c}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:baseline}
header h1{font-size:18px;margin:0}
header .meta{color:#c9d1d9;font-size:13px}
main{padding:16px 24px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}
h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:break-word}
.muted{color:var(--muted)}
#recent td:last-child{min-width:16em}section{overflow-x:auto}
.badge{white-space:nowrap;display:inline-block;min-width:52px;text-align:center;border-radius:4px;padding:0 6px;font-weight:700;font-size:12px;color:#fff}
.badge.pass{background:var(--pass)}.badge.warn{background:var(--warn)}.badge.fail{background:var(--fail)}
.badge.unknown{background:var(--unknown)}.badge.info{background:var(--info)}.badge.exempt{background:var(--exempt)}
.banner{padding:10px 14px;border-radius:8px;margin:0 0 16px;font-weight:600;border:1px solid}
.banner.pass{background:#dafbe1;border-color:#aceebb}.banner.warn{background:#fff8c5;border-color:#eac54f}
.banner.fail{background:#ffebe9;border-color:#ff8182}
.days{font-weight:700}.days.soon{color:var(--warn)}.days.urgent,.days.expired{color:var(--fail)}
tr.soon td{background:#fff8c5}tr.urgent td,tr.expired td{background:#ffebe9}
.remedy{color:var(--muted);font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.chart svg{width:100%;height:auto;max-height:260px;display:block}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
.sw.hs{background:var(--hs)}.sw.ref{background:var(--ref)}.sw.wr{background:var(--wr)}
form.login{max-width:380px;margin:40px auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:20px}
form.login input{width:100%;padding:6px;margin:6px 0 12px;font:inherit}
form.login button,form.inline button{font:inherit;padding:4px 12px}
form.inline{display:inline;margin:0}
.error{color:var(--fail);font-weight:600}
#refresh{font-size:12px;color:#c9d1d9}
@media print{header{background:none;color:#000}header .meta,#refresh{color:#333}section{break-inside:avoid}}
)CSS";

}  // namespace

std::string_view stylesheet() noexcept { return css; }

std::string csp_hash(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) return "'none'";
    std::string b64(4 * ((len + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), md.data(), static_cast<int>(len));
    b64.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return "'sha256-" + b64 + "'";
}

std::string_view status_class(status s) noexcept { return json_name(s); }

std::string badge(std::string_view css_class, std::string_view label) {
    return "<span class=\"badge " + html_escape(css_class) + "\">" + html_escape(label) + "</span>";
}

std::string utc_time(std::int64_t t) {
    constexpr std::int64_t day = 86400;
    std::int64_t days = t / day, secs = t % day;
    if (secs < 0) {
        secs += day;
        --days;
    }
    const civil_date c = civil_from_days(days);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02lld:%02lld:%02lld UTC", static_cast<long long>(c.year), c.month,
                  c.day, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
    return buf;
}

std::string utc_date(std::int64_t t) {
    std::string s = utc_time(t);
    return s.substr(0, s.find(' '));
}

}  // namespace atsgate::tls::html
