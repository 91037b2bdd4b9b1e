"""The simulated JPKI authority: what it issues, its CRL, its OCSP answers and its HTTP face."""

from __future__ import annotations

import base64
import os
import stat
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    SignatureAlgorithmOID,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_sim.authority.ca import (
    OCSP_RESPONSE_VALIDITY,
    PLACEHOLDER_BASE_URL,
    JpkiAuthority,
    Revocation,
    issuer_hashes,
    load_auth_ca_certificate,
)
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from hardware_sim.card.credentials import TokenKind
from server.common.clock import FrozenClock
from tests.pki import (
    auth_cert,
    foreign_authority,
    issue_test_card,
    test_authority,
)

DER = serialization.Encoding.DER


def ocsp_request(
    cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(DER)


def ask(authority: JpkiAuthority, request_der: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(authority.ocsp_response_der(request_der))


# -- issued certificates ------------------------------------------------------------------------


def test_auth_certificate_chains_to_the_user_auth_ca(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    cert = auth_cert(card)
    cert.verify_directly_issued_by(authority.auth_ca_cert)
    assert card.auth_ca_cert_der == authority.auth_ca_cert.public_bytes(DER)
    assert "User Authentication CA (simulated)" in authority.auth_ca_cert.subject.rfc4514_string()


def test_auth_certificate_holds_no_name_only_a_serial_like_cn(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority, "RESIDENT-42", holder_name="山田太郎")
    cert = auth_cert(card)
    assert {a.oid for a in cert.subject} == {NameOID.COUNTRY_NAME, NameOID.COMMON_NAME}
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"{cert.serial_number:X}"
    )
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "山田太郎".encode() not in card.auth_cert_der
    assert b"RESIDENT-42" not in card.auth_cert_der


def test_auth_certificate_is_rsa_2048_sha256_for_five_years(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority))
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    start = clock().replace(microsecond=0)
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start.replace(year=start.year + 5)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign


def test_card_key_matches_its_certificate(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    key = serialization.load_pem_private_key(card.auth_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(b"challenge", padding.PKCS1v15(), hashes.SHA256())
    public = auth_cert(card).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())


def test_serials_are_random_positive_and_fit_20_octets(authority: JpkiAuthority) -> None:
    serials = set()
    for _ in range(3):
        card = issue_test_card(authority)
        for der in (card.auth_cert_der, card.sign_cert_der):
            serial = x509.load_der_x509_certificate(der).serial_number
            assert 0 < serial < 2**159
            serials.add(serial)
    assert len(serials) == 6


def test_auth_certificate_points_at_the_responder_base_url(authority: JpkiAuthority) -> None:
    authority.base_url = "http://127.0.0.1:8089/"
    cert = auth_cert(issue_test_card(authority))
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name == [
        x509.UniformResourceIdentifier("http://127.0.0.1:8089/crl/auth.crl")
    ]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    locations = {d.access_method: d.access_location.value for d in aia}
    assert locations[AuthorityInformationAccessOID.OCSP] == "http://127.0.0.1:8089/ocsp"
    assert locations[AuthorityInformationAccessOID.CA_ISSUERS] == (
        "http://127.0.0.1:8089/ca/auth.der"
    )


def test_starting_a_responder_replaces_the_placeholder_base_url(
    authority: JpkiAuthority,
) -> None:
    assert authority.base_url == PLACEHOLDER_BASE_URL
    with serve_in_thread(authority) as handle:
        assert authority.base_url == handle.url
        assert handle.url == f"http://127.0.0.1:{handle.port}"


def test_signing_certificate_chains_to_signing_ca_and_may_carry_the_name(
    authority: JpkiAuthority,
) -> None:
    card = issue_test_card(authority, holder_name="山田太郎", token=TokenKind.ANDROID)
    sign = x509.load_der_x509_certificate(card.sign_cert_der)
    sign.verify_directly_issued_by(authority.sign_ca_cert)
    assert sign.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "山田太郎"
    assert card.token is TokenKind.ANDROID
    assert authority.sign_ca_cert.subject != authority.auth_ca_cert.subject


def test_not_before_and_valid_years_make_an_expired_certificate(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority, not_before=clock() - timedelta(days=6 * 365)))
    assert cert.not_valid_after_utc < clock()


def test_bad_pin_refuses_the_card_and_records_nothing(authority: JpkiAuthority) -> None:
    with pytest.raises(ValueError, match="PIN"):
        authority.issue_card("R-1", pin="12345", sign_password="SIGN2026")
    crl = x509.load_der_x509_crl(authority.crl_der())
    assert len(crl) == 0


def test_ocsp_signer_is_a_delegated_responder_of_the_auth_ca(authority: JpkiAuthority) -> None:
    signer = authority.ocsp_signer_cert
    signer.verify_directly_issued_by(authority.auth_ca_cert)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    signer.extensions.get_extension_for_class(x509.OCSPNoCheck)


# -- revocation registry and CRL ----------------------------------------------------------------


def test_crl_is_signed_der_with_the_revoked_serial_and_reason(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority))
    other = auth_cert(issue_test_card(authority))
    revoked_at = clock() - timedelta(hours=2)
    authority.revoke(cert.serial_number, reason=x509.ReasonFlags.key_compromise, at=revoked_at)

    crl = x509.load_der_x509_crl(authority.crl_der())
    assert crl.is_signature_valid(authority.auth_ca_cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == authority.auth_ca_cert.subject
    assert crl.last_update_utc == clock().replace(microsecond=0)
    assert crl.next_update_utc == crl.last_update_utc + timedelta(days=1)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == revoked_at.replace(microsecond=0)
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(other.serial_number) is None


def test_crl_number_increments_with_each_new_crl(authority: JpkiAuthority) -> None:
    numbers = [
        x509.load_der_x509_crl(authority.crl_der())
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]


def test_crl_lists_only_user_authentication_certificates(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    sign_serial = x509.load_der_x509_certificate(card.sign_cert_der).serial_number
    authority.revoke(sign_serial)
    assert authority.is_revoked(sign_serial)
    assert len(x509.load_der_x509_crl(authority.crl_der())) == 0


def test_published_crl_is_reissued_only_after_a_revocation_or_its_next_update(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    first = authority.published_crl_der()
    assert authority.published_crl_der() == first
    authority.revoke(auth_cert(issue_test_card(authority)).serial_number)
    second = authority.published_crl_der()
    assert second != first
    clock.advance(timedelta(days=1))
    assert authority.published_crl_der() != second


def test_revoking_an_unknown_serial_is_a_caller_error(authority: JpkiAuthority) -> None:
    with pytest.raises(KeyError):
        authority.revoke(12345)


def test_revoking_twice_keeps_the_first_revocation(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    serial = auth_cert(issue_test_card(authority)).serial_number
    first = authority.revoke(serial, reason=x509.ReasonFlags.superseded)
    clock.advance(timedelta(hours=1))
    again = authority.revoke(serial, reason=x509.ReasonFlags.key_compromise)
    assert again == first


# -- OCSP ---------------------------------------------------------------------------------------


def test_ocsp_answers_good_signed_by_the_delegated_signer(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority))
    response = ask(authority, ocsp_request(cert, authority.auth_ca_cert))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert.serial_number
    assert response.certificates == [authority.ocsp_signer_cert]
    signer_key = authority.ocsp_signer_cert.public_key()
    assert isinstance(signer_key, rsa.RSAPublicKey)
    assert response.signature_hash_algorithm is not None
    signer_key.verify(
        response.signature,
        response.tbs_response_bytes,
        padding.PKCS1v15(),
        response.signature_hash_algorithm,
    )
    now = clock().replace(microsecond=0)
    assert response.this_update_utc == now
    assert response.next_update_utc == now + OCSP_RESPONSE_VALIDITY


def test_ocsp_answers_revoked_with_time_and_reason(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority))
    at = clock() - timedelta(days=3)
    authority.revoke(cert.serial_number, reason=x509.ReasonFlags.cessation_of_operation, at=at)
    response = ask(authority, ocsp_request(cert, authority.auth_ca_cert))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == at.replace(microsecond=0)
    assert response.revocation_reason is x509.ReasonFlags.cessation_of_operation


def test_ocsp_answers_unknown_for_a_serial_this_ca_never_issued(
    authority: JpkiAuthority,
) -> None:
    name_hash, key_hash = issuer_hashes(authority.auth_ca_cert, hashes.SHA1())
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash, 424242, hashes.SHA1())
        .build()
        .public_bytes(DER)
    )
    response = ask(authority, request)
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == 424242


def test_ocsp_answers_unknown_when_the_issuer_hash_is_another_cas(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    foreign = foreign_authority(clock)
    cert = auth_cert(issue_test_card(foreign))
    # Register the same serial here too (as revoked), so only the issuer hash says "not ours".
    authority.import_revocations(
        [Revocation(cert.serial_number, clock(), x509.ReasonFlags.superseded)]
    )
    response = ask(authority, ocsp_request(cert, foreign.auth_ca_cert))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_recognises_its_certificates_by_each_certid_hash_algorithm_in_turn(
    authority: JpkiAuthority,
) -> None:
    # The CA's own hashes are worked out once per algorithm: a SHA-1 CertID after a SHA-256
    # one (and back) is still matched against the hashes of its own algorithm.
    cert = auth_cert(issue_test_card(authority))
    for algorithm in (hashes.SHA256(), hashes.SHA1(), hashes.SHA256(), hashes.SHA1()):
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, authority.auth_ca_cert, algorithm)
            .build()
            .public_bytes(DER)
        )
        response = ask(authority, request)
        assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert response.hash_algorithm.name == algorithm.name


def test_ocsp_answers_unknown_for_a_signing_certificate(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    sign = x509.load_der_x509_certificate(card.sign_cert_der)
    response = ask(authority, ocsp_request(sign, authority.sign_ca_cert))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_malformed_request_gets_an_unsuccessful_response(
    authority: JpkiAuthority,
) -> None:
    response = ask(authority, b"\x30\x03\x02\x01\x00")
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_echoes_the_nonce(authority: JpkiAuthority) -> None:
    cert = auth_cert(issue_test_card(authority))
    nonce = os.urandom(32)
    response = ask(authority, ocsp_request(cert, authority.auth_ca_cert, nonce))
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_ocsp_without_a_nonce_answers_without_one(authority: JpkiAuthority) -> None:
    cert = auth_cert(issue_test_card(authority))
    response = ask(authority, ocsp_request(cert, authority.auth_ca_cert))
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_ocsp_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    authority = test_authority(FrozenClock())
    response = ocsp.load_der_ocsp_response(authority.ocsp_response_der(data))
    assert response.response_status in (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        ocsp.OCSPResponseStatus.SUCCESSFUL,
    )


# -- persistence --------------------------------------------------------------------------------


def test_save_and_load_keep_certificates_registry_and_key_permissions(
    authority: JpkiAuthority, clock: FrozenClock, tmp_path: Path
) -> None:
    kept = auth_cert(issue_test_card(authority))
    revoked = auth_cert(issue_test_card(authority))
    authority.revoke(revoked.serial_number, reason=x509.ReasonFlags.affiliation_changed)
    authority.crl_der()
    authority.save(tmp_path / "authority")

    for key_file in (tmp_path / "authority").glob("*.key.pem"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_auth_ca_certificate(tmp_path / "authority") == authority.auth_ca_cert

    loaded = JpkiAuthority.load(tmp_path / "authority", clock)
    assert loaded.auth_ca_cert == authority.auth_ca_cert
    assert loaded.ocsp_signer_cert == authority.ocsp_signer_cert
    assert loaded.base_url == authority.base_url
    good = ask(loaded, ocsp_request(kept, loaded.auth_ca_cert))
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD
    bad = ask(loaded, ocsp_request(revoked, loaded.auth_ca_cert))
    assert bad.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert bad.revocation_reason is x509.ReasonFlags.affiliation_changed
    crl = x509.load_der_x509_crl(loaded.crl_der())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


# -- HTTP responder -----------------------------------------------------------------------------


def _http(request: urllib.request.Request) -> tuple[int, str, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as reply:
            return reply.status, reply.headers.get_content_type(), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def test_responder_serves_ocsp_over_post(
    authority: JpkiAuthority, responder: ResponderHandle
) -> None:
    cert = auth_cert(issue_test_card(authority))
    status, content_type, body = _http(
        urllib.request.Request(
            responder.url + "/ocsp",
            data=ocsp_request(cert, authority.auth_ca_cert),
            headers={"Content-Type": "application/ocsp-request"},
        )
    )
    assert (status, content_type) == (200, "application/ocsp-response")
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_responder_serves_ocsp_over_get(
    authority: JpkiAuthority, responder: ResponderHandle
) -> None:
    cert = auth_cert(issue_test_card(authority))
    encoded = base64.b64encode(ocsp_request(cert, authority.auth_ca_cert)).decode()
    quoted = urllib.parse.quote(encoded, safe="")
    status, _, body = _http(urllib.request.Request(f"{responder.url}/ocsp/{quoted}"))
    assert status == 200
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_responder_serves_the_crl_and_the_ca_certificate(
    authority: JpkiAuthority, responder: ResponderHandle
) -> None:
    status, content_type, body = _http(urllib.request.Request(responder.url + "/crl/auth.crl"))
    assert (status, content_type) == (200, "application/pkix-crl")
    assert x509.load_der_x509_crl(body).issuer == authority.auth_ca_cert.subject
    status, content_type, body = _http(urllib.request.Request(responder.url + "/ca/auth.der"))
    assert (status, content_type) == (200, "application/pkix-cert")
    assert x509.load_der_x509_certificate(body) == authority.auth_ca_cert


def test_responder_refuses_unknown_paths_and_wrong_content_types(
    responder: ResponderHandle,
) -> None:
    assert _http(urllib.request.Request(responder.url + "/nothing"))[0] == 404
    wrong_type = urllib.request.Request(
        responder.url + "/ocsp", data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert _http(wrong_type)[0] == 415


def test_responder_fault_switch_answers_503(responder: ResponderHandle) -> None:
    responder.faults.status = 503
    assert _http(urllib.request.Request(responder.url + "/crl/auth.crl"))[0] == 503
    responder.faults.clear()
    assert _http(urllib.request.Request(responder.url + "/crl/auth.crl"))[0] == 200
