/* parse_err.c - names and messages of the parse-error reasons (core/parse_err.h). */
#include "core/parse_err.h"

static const struct {
    const char *reason;
    const char *message;
} k_err[VN_PARSE_ERR__COUNT] = {
    [VN_PARSE_OK] = {"ok", "OK"},
    [VN_PARSE_ERR_NO_PIPE] = {"no_pipe", "Invalid metric packet, need at least 1 pipe for type"},
    [VN_PARSE_ERR_NO_COLON] = {"no_colon", "Invalid metric packet, need at least 1 colon"},
    [VN_PARSE_ERR_EMPTY_NAME] = {"empty_name", "Invalid metric packet, name cannot be empty"},
    [VN_PARSE_ERR_NO_TYPE] = {"no_type", "Invalid metric packet, metric type not specified"},
    [VN_PARSE_ERR_BAD_TYPE] = {"bad_type", "Invalid type for metric"},
    [VN_PARSE_ERR_EMPTY_SECTION] = {"empty_section", "Invalid metric packet, empty string after/between pipes"},
    [VN_PARSE_ERR_BAD_RATE] = {"bad_rate", "Invalid float for sample rate"},
    [VN_PARSE_ERR_RATE_RANGE] = {"rate_range", "Sample rate must be >0 and <=1"},
    [VN_PARSE_ERR_MULTI_RATE] = {"multi_rate", "Invalid metric packet, multiple sample rates specified"},
    [VN_PARSE_ERR_MULTI_TAGS] = {"multi_tags", "Invalid metric packet, multiple tag sections specified"},
    [VN_PARSE_ERR_UNKNOWN_SECTION] = {"unknown_section", "Invalid metric packet, contains unknown section"},
    [VN_PARSE_ERR_BAD_VALUE] = {"bad_value", "Invalid number for metric value"},
    [VN_PARSE_ERR_TOO_MANY_TAGS] = {"too_many_tags", "Invalid packet, more than 128 tags"},
    [VN_PARSE_ERR_EV_NO_COLON] = {"event_no_colon", "Invalid event packet, need at least 1 colon"},
    [VN_PARSE_ERR_EV_WRAPPER] = {"event_wrapper", "Invalid event packet, must have _e{} wrapper around length section"},
    [VN_PARSE_ERR_EV_COMMA] = {"event_no_comma", "Invalid event packet, length section requires comma divider"},
    [VN_PARSE_ERR_EV_TITLE_LEN] = {"event_title_length", "Invalid event packet, title length must be a positive "
                                                   "integer equal to the actual title length"},
    [VN_PARSE_ERR_EV_TEXT_LEN] = {"event_text_length", "Invalid event packet, text length must be a positive "
                                                 "integer equal to the actual text length"},
    [VN_PARSE_ERR_EV_NO_TEXT] = {"event_no_text", "Invalid event packet, must have at least 1 pipe for text"},
    [VN_PARSE_ERR_EV_DATE] = {"event_bad_date", "Invalid event packet, could not parse date as unix timestamp"},
    [VN_PARSE_ERR_EV_PRIORITY] = {"event_bad_priority", "Invalid event packet, priority must be normal or low"},
    [VN_PARSE_ERR_EV_ALERT] = {"event_bad_alert",
                               "Invalid event packet, alert level must be error, warning, info or success"},
    [VN_PARSE_ERR_EV_MULTI] = {"event_multi_section", "Invalid event packet, multiple date, hostname, aggregation "
                                                "key, priority, source, alert or tag sections"},
    [VN_PARSE_ERR_EV_EMPTY_SECTION] = {"event_empty_section", "Invalid event packet, empty string after/between pipes"},
    [VN_PARSE_ERR_EV_UNKNOWN] = {"event_unknown_section", "Invalid event packet, unrecognized metadata section"},
    [VN_PARSE_ERR_SC_PREFIX] = {"service_check_no_prefix", "Invalid service check packet, no _sc prefix"},
    [VN_PARSE_ERR_SC_NO_NAME] = {"service_check_no_name", "Invalid service check packet, need name section"},
    [VN_PARSE_ERR_SC_EMPTY_NAME] = {"service_check_empty_name", "Invalid service check packet, empty name"},
    [VN_PARSE_ERR_SC_NO_STATUS] = {"service_check_no_status", "Invalid service check packet, need status section"},
    [VN_PARSE_ERR_SC_STATUS] = {"service_check_bad_status", "Invalid service check packet, must have status of 0, 1, 2, or 3"},
    [VN_PARSE_ERR_SC_DATE] = {"service_check_bad_date", "Invalid service check packet, could not parse date as unix timestamp"},
    [VN_PARSE_ERR_SC_MULTI] = {"service_check_multi_section",
                               "Invalid service check packet, multiple date, hostname, message or tag sections"},
    /* sic: Go's wording, kept so log searches written for Go still match */
    [VN_PARSE_ERR_SC_EMPTY_SECTION] = {"service_check_empty_section",
                                       "Invalid service packet packet, empty string after/between pipes"},
    [VN_PARSE_ERR_SC_UNKNOWN] = {"service_check_unknown_section", "Invalid service check packet, unrecognized metadata section"},
    [VN_PARSE_ERR_SC_MSG_NOT_LAST] = {"service_check_message_not_last",
                                      "Invalid service check packet, message must be the last metadata section"},
    [VN_PARSE_ERR_NUL_BYTE] = {"nul_byte", "Invalid packet, contains a NUL byte"},
    [VN_PARSE_ERR_NEWLINE] = {"newline", "Invalid packet, contains a newline inside one line"},
    [VN_PARSE_ERR_KEY_TOO_LONG] = {"key_too_long", "Invalid packet, name and tags too long for one record"},
};

const char *vn_parse_err_reason(vn_parse_err_t e)
{
    return (unsigned)e < VN_PARSE_ERR__COUNT && k_err[e].reason ? k_err[e].reason : "unknown";
}

const char *vn_parse_err_message(vn_parse_err_t e)
{
    return (unsigned)e < VN_PARSE_ERR__COUNT && k_err[e].message ? k_err[e].message : "unknown parse error";
}
