import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Procedure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROCEDURE_UNSPECIFIED: _ClassVar[Procedure]
    PROCEDURE_JIDO_TEATE: _ClassVar[Procedure]
    PROCEDURE_SHUSSAN_ICHIJIKIN: _ClassVar[Procedure]
    PROCEDURE_HOIKUSHO_NYUSHO: _ClassVar[Procedure]
    PROCEDURE_KOKUHO: _ClassVar[Procedure]
    PROCEDURE_KAIGO_HOKEN: _ClassVar[Procedure]
    PROCEDURE_KOKI_KOREISHA_IRYO: _ClassVar[Procedure]
    PROCEDURE_KOKUMIN_NENKIN: _ClassVar[Procedure]
    PROCEDURE_JIDO_FUYO_TEATE: _ClassVar[Procedure]
    PROCEDURE_SHUGAKU: _ClassVar[Procedure]
    PROCEDURE_OTHER: _ClassVar[Procedure]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_MATCH: _ClassVar[Outcome]
    OUTCOME_NO_MATCH: _ClassVar[Outcome]
    OUTCOME_NEEDS_REVIEW: _ClassVar[Outcome]

class FieldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_STATUS_UNSPECIFIED: _ClassVar[FieldStatus]
    FIELD_STATUS_MATCHED: _ClassVar[FieldStatus]
    FIELD_STATUS_VARIANT_MATCHED: _ClassVar[FieldStatus]
    FIELD_STATUS_MISMATCHED: _ClassVar[FieldStatus]
    FIELD_STATUS_NOT_FOUND: _ClassVar[FieldStatus]

class VariantRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VARIANT_RULE_UNSPECIFIED: _ClassVar[VariantRule]
    VARIANT_RULE_WIDTH: _ClassVar[VariantRule]
    VARIANT_RULE_KANA: _ClassVar[VariantRule]
    VARIANT_RULE_KANJI_VARIANT: _ClassVar[VariantRule]
    VARIANT_RULE_ERA_DATE: _ClassVar[VariantRule]
    VARIANT_RULE_ADDRESS_NOTATION: _ClassVar[VariantRule]
    VARIANT_RULE_FORMER_NAME: _ClassVar[VariantRule]
    VARIANT_RULE_NAME_ORDER: _ClassVar[VariantRule]
PROCEDURE_UNSPECIFIED: Procedure
PROCEDURE_JIDO_TEATE: Procedure
PROCEDURE_SHUSSAN_ICHIJIKIN: Procedure
PROCEDURE_HOIKUSHO_NYUSHO: Procedure
PROCEDURE_KOKUHO: Procedure
PROCEDURE_KAIGO_HOKEN: Procedure
PROCEDURE_KOKI_KOREISHA_IRYO: Procedure
PROCEDURE_KOKUMIN_NENKIN: Procedure
PROCEDURE_JIDO_FUYO_TEATE: Procedure
PROCEDURE_SHUGAKU: Procedure
PROCEDURE_OTHER: Procedure
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_MATCH: Outcome
OUTCOME_NO_MATCH: Outcome
OUTCOME_NEEDS_REVIEW: Outcome
FIELD_STATUS_UNSPECIFIED: FieldStatus
FIELD_STATUS_MATCHED: FieldStatus
FIELD_STATUS_VARIANT_MATCHED: FieldStatus
FIELD_STATUS_MISMATCHED: FieldStatus
FIELD_STATUS_NOT_FOUND: FieldStatus
VARIANT_RULE_UNSPECIFIED: VariantRule
VARIANT_RULE_WIDTH: VariantRule
VARIANT_RULE_KANA: VariantRule
VARIANT_RULE_KANJI_VARIANT: VariantRule
VARIANT_RULE_ERA_DATE: VariantRule
VARIANT_RULE_ADDRESS_NOTATION: VariantRule
VARIANT_RULE_FORMER_NAME: VariantRule
VARIANT_RULE_NAME_ORDER: VariantRule

class DeclaredPerson(_message.Message):
    __slots__ = ("name", "name_kana", "birth_date", "relationship")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    name: str
    name_kana: str
    birth_date: str
    relationship: str
    def __init__(self, name: _Optional[str] = ..., name_kana: _Optional[str] = ..., birth_date: _Optional[str] = ..., relationship: _Optional[str] = ...) -> None: ...

class SubmitApplicationRequest(_message.Message):
    __slots__ = ("municipality_code", "procedure", "applicant", "address", "address_annex", "household_members", "application_id")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_ANNEX_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    procedure: Procedure
    applicant: DeclaredPerson
    address: str
    address_annex: str
    household_members: _containers.RepeatedCompositeFieldContainer[DeclaredPerson]
    application_id: str
    def __init__(self, municipality_code: _Optional[str] = ..., procedure: _Optional[_Union[Procedure, str]] = ..., applicant: _Optional[_Union[DeclaredPerson, _Mapping]] = ..., address: _Optional[str] = ..., address_annex: _Optional[str] = ..., household_members: _Optional[_Iterable[_Union[DeclaredPerson, _Mapping]]] = ..., application_id: _Optional[str] = ...) -> None: ...

class FieldResult(_message.Message):
    __slots__ = ("field", "status", "rules", "score", "weight")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    field: str
    status: FieldStatus
    rules: _containers.RepeatedScalarFieldContainer[VariantRule]
    score: float
    weight: float
    def __init__(self, field: _Optional[str] = ..., status: _Optional[_Union[FieldStatus, str]] = ..., rules: _Optional[_Iterable[_Union[VariantRule, str]]] = ..., score: _Optional[float] = ..., weight: _Optional[float] = ...) -> None: ...

class Resident(_message.Message):
    __slots__ = ("resident_id", "household_id", "name", "name_kana", "former_family_name", "birth_date", "birth_date_wareki", "sex", "address", "address_annex", "relationship", "is_household_head")
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    FORMER_FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_WAREKI_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_ANNEX_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    IS_HOUSEHOLD_HEAD_FIELD_NUMBER: _ClassVar[int]
    resident_id: str
    household_id: str
    name: str
    name_kana: str
    former_family_name: str
    birth_date: str
    birth_date_wareki: str
    sex: str
    address: str
    address_annex: str
    relationship: str
    is_household_head: bool
    def __init__(self, resident_id: _Optional[str] = ..., household_id: _Optional[str] = ..., name: _Optional[str] = ..., name_kana: _Optional[str] = ..., former_family_name: _Optional[str] = ..., birth_date: _Optional[str] = ..., birth_date_wareki: _Optional[str] = ..., sex: _Optional[str] = ..., address: _Optional[str] = ..., address_annex: _Optional[str] = ..., relationship: _Optional[str] = ..., is_household_head: _Optional[bool] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("resident", "score")
    RESIDENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    resident: Resident
    score: float
    def __init__(self, resident: _Optional[_Union[Resident, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class MemberResult(_message.Message):
    __slots__ = ("index", "outcome", "resident_id", "score", "fields")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    index: int
    outcome: Outcome
    resident_id: str
    score: float
    fields: _containers.RepeatedCompositeFieldContainer[FieldResult]
    def __init__(self, index: _Optional[int] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., resident_id: _Optional[str] = ..., score: _Optional[float] = ..., fields: _Optional[_Iterable[_Union[FieldResult, _Mapping]]] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("procedure", "title", "rule_id", "rule", "members")
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    procedure: Procedure
    title: str
    rule_id: str
    rule: str
    members: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, procedure: _Optional[_Union[Procedure, str]] = ..., title: _Optional[str] = ..., rule_id: _Optional[str] = ..., rule: _Optional[str] = ..., members: _Optional[_Iterable[int]] = ...) -> None: ...

class SubmitApplicationResponse(_message.Message):
    __slots__ = ("application_id", "outcome", "score", "fields", "reasons", "resident", "household", "members", "candidates", "suggestions")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    outcome: Outcome
    score: float
    fields: _containers.RepeatedCompositeFieldContainer[FieldResult]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    resident: Resident
    household: _containers.RepeatedCompositeFieldContainer[Resident]
    members: _containers.RepeatedCompositeFieldContainer[MemberResult]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    def __init__(self, application_id: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., score: _Optional[float] = ..., fields: _Optional[_Iterable[_Union[FieldResult, _Mapping]]] = ..., reasons: _Optional[_Iterable[str]] = ..., resident: _Optional[_Union[Resident, _Mapping]] = ..., household: _Optional[_Iterable[_Union[Resident, _Mapping]]] = ..., members: _Optional[_Iterable[_Union[MemberResult, _Mapping]]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ...) -> None: ...

class BeginAutofillRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BeginAutofillResponse(_message.Message):
    __slots__ = ("challenge_id", "to_be_signed", "expires_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_BE_SIGNED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    to_be_signed: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., to_be_signed: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CompleteAutofillRequest(_message.Message):
    __slots__ = ("challenge_id", "certificate", "signature")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    certificate: bytes
    signature: bytes
    def __init__(self, challenge_id: _Optional[str] = ..., certificate: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CompleteAutofillResponse(_message.Message):
    __slots__ = ("municipality_code", "applicant", "household", "suggestions")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    applicant: Resident
    household: _containers.RepeatedCompositeFieldContainer[Resident]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    def __init__(self, municipality_code: _Optional[str] = ..., applicant: _Optional[_Union[Resident, _Mapping]] = ..., household: _Optional[_Iterable[_Union[Resident, _Mapping]]] = ..., suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ...) -> None: ...

class HouseholdMember(_message.Message):
    __slots__ = ("birth_date", "relationship")
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    birth_date: str
    relationship: str
    def __init__(self, birth_date: _Optional[str] = ..., relationship: _Optional[str] = ...) -> None: ...

class SuggestProceduresRequest(_message.Message):
    __slots__ = ("municipality_code", "members", "exclude")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    members: _containers.RepeatedCompositeFieldContainer[HouseholdMember]
    exclude: Procedure
    def __init__(self, municipality_code: _Optional[str] = ..., members: _Optional[_Iterable[_Union[HouseholdMember, _Mapping]]] = ..., exclude: _Optional[_Union[Procedure, str]] = ...) -> None: ...

class SuggestProceduresResponse(_message.Message):
    __slots__ = ("suggestions",)
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    def __init__(self, suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ...) -> None: ...
