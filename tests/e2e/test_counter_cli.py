"""らくらく窓口 from the command line: register a counter terminal, visit it with a card, and
hand the copy over as the clerk (`konbini kiosk --counter`, `konbini staff hand-over`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.test_cli import konbini, running  # noqa: F401 (the fixture)


def test_counter_visit_then_hand_over_from_the_command_line(
    running: tuple[Path, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    state, target = running
    db = f"sqlite:///{state / 'konbini.db'}"
    counter = konbini(
        "municipality", "add-counter", "--database-url", db,
        "--municipality", "131016", "--terminal-id", "C13101601",
    )  # fmt: skip
    assert counter.returncode == 0, counter.stdout + counter.stderr
    assert "operator of record LG131016" in counter.stdout
    added = konbini(
        "municipality", "add-staff", "--database-url", db, "--municipality", "131016",
        "--name", "市民課 窓口",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    card_file = sorted((state / "cards").glob("*.json"))[1]
    pin = json.loads(card_file.read_text())["auth_pin"]
    out = tmp_path / "out"
    visit = konbini(
        "kiosk", "--server", target, "--kiosk-id", "C13101601", "--card", str(card_file),
        "--pin", pin, "--counter", "--out", str(out),
    )  # fmt: skip
    assert visit.returncode == 0, visit.stdout + visit.stderr
    assert visit.stdout.startswith("awaiting_handover")
    found = re.search(r"受付番号 (\d{8}-\d{4}): (\d+)円 at the counter", visit.stdout)
    assert found is not None, visit.stdout
    number, fee = found.group(1), found.group(2)
    assert (out / f"uketsukehyo-{number}.pdf").is_file()
    waiting = konbini("staff", "--server", target, "--token", token, "counter-copies")
    assert waiting.returncode == 0 and number in waiting.stdout, waiting.stdout
    handed = konbini("staff", "--server", target, "--token", token, "hand-over", number)
    assert handed.returncode == 0, handed.stdout + handed.stderr
    assert f"collect {fee}円" in handed.stdout
    again = konbini("staff", "--server", target, "--token", token, "hand-over", number)
    assert again.returncode == 1
    assert "FAILED_PRECONDITION ALREADY_HANDED_OVER" in again.stdout
