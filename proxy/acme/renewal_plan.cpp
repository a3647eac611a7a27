#include "proxy/acme/renewal_plan.hpp"

#include <algorithm>

namespace atsgate::acme {

std::string_view to_string(renewal_reason r) noexcept {
    switch (r) {
        case renewal_reason::no_certificate: return "no_certificate";
        case renewal_reason::expired: return "expired";
        case renewal_reason::two_thirds: return "two_thirds";
        case renewal_reason::ari_window: return "ari_window";
        case renewal_reason::backoff: return "backoff";
    }
    return "no_certificate";
}

renewal_plan plan_renewal(const renewal_inputs& in, std::int64_t now, double jitter) noexcept {
    renewal_plan p;
    if (!in.not_before || !in.not_after) {
        p.due = now;
        p.reason = renewal_reason::no_certificate;
    } else if (now > *in.not_after) {
        p.due = *in.not_after;
        p.reason = renewal_reason::expired;
    } else {
        p.due = renew_at_two_thirds(*in.not_before, *in.not_after);
        p.reason = renewal_reason::two_thirds;
        if (in.ari && in.ari->end <= *in.not_after) {
            if (auto t = choose_in_window(*in.ari, now, in.ari_draw)) {
                // choose_in_window clamps a past time to `now`; keep the window's own time as "due".
                p.due = std::max(in.ari->start, std::min(*t, in.ari->end));
                if (*t <= now) p.due = std::min(p.due, now);
                p.reason = renewal_reason::ari_window;
            }
        }
    }
    p.at = std::max(p.due, now);
    if (in.failures > 0) {
        std::int64_t wait = backoff_ms(in.failures, in.retry_base_ms, in.retry_cap_ms, jitter) / 1000;
        if (in.retry_after > wait) wait = in.retry_after;
        const std::int64_t retry = in.last_failure + wait;
        if (retry > p.at) {
            p.at = retry;
            p.reason = renewal_reason::backoff;
        }
        p.overdue = now >= p.due;
    }
    return p;
}

}  // namespace atsgate::acme
