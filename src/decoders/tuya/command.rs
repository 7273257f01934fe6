//! Tuya command numbers (the `cmd` word of every frame), as listed in
//! tinytuya `core/command_types.py` (which cites the Tuya SDK's
//! `lan_protocol.h`). Any value parses: unknown ones are shown by number.

/// A frame's command word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command(pub u32);

macro_rules! commands {
    ($($name:ident = $v:expr, $text:literal;)*) => {
        impl Command {
            $(pub const $name: Command = Command($v);)*

            /// The tinytuya name, or `None` for a number it does not list.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

commands! {
    AP_CONFIG = 1, "AP_CONFIG";
    ACTIVE = 2, "ACTIVE";
    SESS_KEY_NEG_START = 3, "SESS_KEY_NEG_START";
    SESS_KEY_NEG_RESP = 4, "SESS_KEY_NEG_RESP";
    SESS_KEY_NEG_FINISH = 5, "SESS_KEY_NEG_FINISH";
    UNBIND = 6, "UNBIND";
    CONTROL = 7, "CONTROL";
    STATUS = 8, "STATUS";
    HEART_BEAT = 9, "HEART_BEAT";
    DP_QUERY = 0x0a, "DP_QUERY";
    QUERY_WIFI = 0x0b, "QUERY_WIFI";
    TOKEN_BIND = 0x0c, "TOKEN_BIND";
    CONTROL_NEW = 0x0d, "CONTROL_NEW";
    ENABLE_WIFI = 0x0e, "ENABLE_WIFI";
    WIFI_INFO = 0x0f, "WIFI_INFO";
    DP_QUERY_NEW = 0x10, "DP_QUERY_NEW";
    SCENE_EXECUTE = 0x11, "SCENE_EXECUTE";
    UPDATEDPS = 0x12, "UPDATEDPS";
    UDP_NEW = 0x13, "UDP_NEW";
    AP_CONFIG_NEW = 0x14, "AP_CONFIG_NEW";
    BOARDCAST_LPV34 = 0x23, "BOARDCAST_LPV34";
    REQ_DEVINFO = 0x25, "REQ_DEVINFO";
    LAN_EXT_STREAM = 0x40, "LAN_EXT_STREAM";
}

impl Command {
    /// The name, or `CMD_<n>` for unknown numbers (for `methods`).
    pub fn label(self) -> String {
        self.name()
            .map_or_else(|| format!("CMD_{}", self.0), str::to_owned)
    }

    /// Commands whose payload carries no `"3.x"` + 12-byte version header
    /// when the client sends them (tinytuya `NO_PROTOCOL_HEADER_CMDS`).
    pub fn without_version_header(self) -> bool {
        matches!(
            self,
            Command::DP_QUERY
                | Command::DP_QUERY_NEW
                | Command::UPDATEDPS
                | Command::HEART_BEAT
                | Command::SESS_KEY_NEG_START
                | Command::SESS_KEY_NEG_RESP
                | Command::SESS_KEY_NEG_FINISH
                | Command::LAN_EXT_STREAM
        )
    }

    /// The three steps of the 3.4/3.5 session key negotiation.
    pub fn is_negotiation(self) -> bool {
        matches!(
            self,
            Command::SESS_KEY_NEG_START | Command::SESS_KEY_NEG_RESP | Command::SESS_KEY_NEG_FINISH
        )
    }

    /// The command the device answers a client request with: the same
    /// number (tinytuya `_get_retcode` pairs a reply by equal `cmd`), except
    /// SESS_KEY_NEG_START → SESS_KEY_NEG_RESP; SESS_KEY_NEG_FINISH gets no
    /// answer.
    pub fn expected_reply(self) -> Option<Command> {
        match self {
            Command::SESS_KEY_NEG_START => Some(Command::SESS_KEY_NEG_RESP),
            Command::SESS_KEY_NEG_FINISH | Command::SESS_KEY_NEG_RESP => None,
            c => Some(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknowns() {
        assert_eq!(Command(7).name(), Some("CONTROL"));
        assert_eq!(Command(0x40).label(), "LAN_EXT_STREAM");
        assert_eq!(Command(0x99).name(), None);
        assert_eq!(Command(0x99).label(), "CMD_153");
        assert!(Command::HEART_BEAT.without_version_header());
        assert!(!Command::CONTROL.without_version_header());
        assert_eq!(
            Command::SESS_KEY_NEG_START.expected_reply(),
            Some(Command::SESS_KEY_NEG_RESP)
        );
        assert_eq!(Command::SESS_KEY_NEG_FINISH.expected_reply(), None);
        assert_eq!(Command::DP_QUERY.expected_reply(), Some(Command::DP_QUERY));
    }
}
