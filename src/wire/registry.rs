//! Names for IANA IKEv2 registry values.
//!
//! TEMPORARY STUB written by the codec branch so it compiles; the real registry (separate
//! branch) replaces this file. Signatures are the contract; `None` means unknown.

/// Payload type notation (IANA "Notation" column; Nonce is "No", SK is "SK").
pub fn payload_name(t: u8) -> Option<&'static str> {
    Some(match t {
        33 => "SA",
        34 => "KE",
        35 => "IDi",
        36 => "IDr",
        37 => "CERT",
        38 => "CERTREQ",
        39 => "AUTH",
        40 => "No",
        41 => "N",
        42 => "D",
        43 => "V",
        44 => "TSi",
        45 => "TSr",
        46 => "SK",
        47 => "CP",
        48 => "EAP",
        49 => "GSPM",
        50 => "IDg",
        51 => "GSA",
        52 => "KD",
        53 => "SKF",
        54 => "PS",
        _ => return None,
    })
}

/// Exchange type name.
pub fn exchange_name(t: u8) -> Option<&'static str> {
    Some(match t {
        34 => "IKE_SA_INIT",
        35 => "IKE_AUTH",
        36 => "CREATE_CHILD_SA",
        37 => "INFORMATIONAL",
        _ => return None,
    })
}

/// Notify message type name.
pub fn notify_name(t: u16) -> Option<&'static str> {
    Some(match t {
        17 => "INVALID_KE_PAYLOAD",
        40 => "UNACCEPTABLE_ADDRESSES",
        41 => "UNEXPECTED_NAT_DETECTED",
        16384 => "INITIAL_CONTACT",
        16388 => "NAT_DETECTION_SOURCE_IP",
        16389 => "NAT_DETECTION_DESTINATION_IP",
        16390 => "COOKIE",
        16393 => "REKEY_SA",
        16396 => "MOBIKE_SUPPORTED",
        16397 => "ADDITIONAL_IP4_ADDRESS",
        16398 => "ADDITIONAL_IP6_ADDRESS",
        16399 => "NO_ADDITIONAL_ADDRESSES",
        16400 => "UPDATE_SA_ADDRESSES",
        16401 => "COOKIE2",
        16402 => "NO_NATS_ALLOWED",
        16430 => "IKEV2_FRAGMENTATION_SUPPORTED",
        16431 => "SIGNATURE_HASH_ALGORITHMS",
        _ => return None,
    })
}

/// Transform type name.
pub fn transform_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "ENCR",
        2 => "PRF",
        3 => "INTEG",
        4 => "KE",
        5 => "ESN",
        _ => return None,
    })
}

/// Transform ID name for the given transform type.
pub fn transform_id_name(transform_type: u8, id: u16) -> Option<&'static str> {
    Some(match (transform_type, id) {
        (1, 12) => "ENCR_AES_CBC",
        (1, 20) => "ENCR_AES_GCM_16",
        (2, 5) => "PRF_HMAC_SHA2_256",
        (3, 12) => "AUTH_HMAC_SHA2_256_128",
        (4, 14) => "2048-bit MODP Group",
        (4, 31) => "Curve25519",
        (5, 0) => "No ESN",
        (5, 1) => "ESN",
        _ => return None,
    })
}

/// Security protocol name.
pub fn protocol_name(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "IKE",
        2 => "AH",
        3 => "ESP",
        _ => return None,
    })
}

/// ID type name.
pub fn id_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "ID_IPV4_ADDR",
        2 => "ID_FQDN",
        3 => "ID_RFC822_ADDR",
        5 => "ID_IPV6_ADDR",
        9 => "ID_DER_ASN1_DN",
        11 => "ID_KEY_ID",
        _ => return None,
    })
}

/// Authentication method name.
pub fn auth_method_name(m: u8) -> Option<&'static str> {
    Some(match m {
        1 => "RSA Digital Signature",
        2 => "Shared Key Message Integrity Code",
        14 => "Digital Signature",
        _ => return None,
    })
}

/// Certificate encoding name.
pub fn cert_encoding_name(e: u8) -> Option<&'static str> {
    Some(match e {
        4 => "X.509 Certificate - Signature",
        _ => return None,
    })
}

/// Traffic selector type name.
pub fn ts_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        7 => "TS_IPV4_ADDR_RANGE",
        8 => "TS_IPV6_ADDR_RANGE",
        _ => return None,
    })
}

/// CP CFG type name.
pub fn cfg_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "CFG_REQUEST",
        2 => "CFG_REPLY",
        3 => "CFG_SET",
        4 => "CFG_ACK",
        _ => return None,
    })
}

/// Configuration attribute type name.
pub fn cfg_attribute_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "INTERNAL_IP4_ADDRESS",
        3 => "INTERNAL_IP4_DNS",
        8 => "INTERNAL_IP6_ADDRESS",
        10 => "INTERNAL_IP6_DNS",
        _ => return None,
    })
}

/// Transform attribute type name.
pub fn transform_attribute_name(t: u16) -> Option<&'static str> {
    Some(match t {
        14 => "Key Length",
        _ => return None,
    })
}

/// Hash algorithm name (RFC 7427 SIGNATURE_HASH_ALGORITHMS).
pub fn hash_algorithm_name(algorithm: u16) -> Option<&'static str> {
    Some(match algorithm {
        1 => "SHA1",
        2 => "SHA2-256",
        3 => "SHA2-384",
        4 => "SHA2-512",
        5 => "Identity",
        _ => return None,
    })
}

/// EAP code name.
pub fn eap_code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "Request",
        2 => "Response",
        3 => "Success",
        4 => "Failure",
        _ => return None,
    })
}
