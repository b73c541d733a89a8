"""Human output prints data literally: a hypothesis such as ``a[final_test_iou] < 1`` is not rich markup."""

from scrutiny.cli._output import Output


def test_table_cells_and_notes_are_not_markup(capsys):
    out = Output(as_json=False)
    out.table("claims [smoke]", ["hypothesis", "verdict"], [["arm[final_test_iou] < 1", "[bold]REPRODUCED"]])
    out.note("metric [final_test_acc] missing")
    captured = capsys.readouterr()
    assert "arm[final_test_iou] < 1" in captured.out and "[bold]REPRODUCED" in captured.out
    assert "claims [smoke]" in captured.out
    assert "metric [final_test_acc] missing" in captured.err
