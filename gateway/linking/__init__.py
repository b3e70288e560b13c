"""One person across agencies: the data custodian's keyed linking of identifiers.

``keys`` says what links (identifiers seen together in one record, as keyed
hashes); ``hook`` audits each such combination when the record arrives;
``index`` keeps the custodian's index of persons; ``review`` lets the
custodian list, show, unlink and relink; ``custody`` finds the key. See
``docs/evaluation.md``.
"""

from gateway.linking.custody import LinkingKeyMissing, custodian_key, require_key
from gateway.linking.hook import combination_entries
from gateway.linking.index import CatchUp, catch_up, person_rows, persons_of, rederive
from gateway.linking.keys import Key, Sighting, keyed_hash, sightings
from gateway.linking.review import (
    Evidence,
    PersonSummary,
    Review,
    ReviewError,
    list_persons,
    relink,
    show,
    unlink,
)

__all__ = [
    "CatchUp",
    "Evidence",
    "Key",
    "LinkingKeyMissing",
    "PersonSummary",
    "Review",
    "ReviewError",
    "Sighting",
    "catch_up",
    "combination_entries",
    "custodian_key",
    "keyed_hash",
    "list_persons",
    "person_rows",
    "persons_of",
    "rederive",
    "relink",
    "require_key",
    "show",
    "sightings",
    "unlink",
]
