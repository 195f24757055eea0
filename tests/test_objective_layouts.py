"""Published data as it comes: OpenCompassData-core layouts (C-Eval, CMMLU, MMLU, GSM8K, ARC,
HellaSwag, Winogrande), folders/globs with {subset}, column maps, `datasets`-library exports,
missing data, and the subject lists / groups against OpenCompass's own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from arena.core.errors import ConfigError, DataError
from objective import cards
from objective.datasets import load_dataset
from objective.loaders import using_data_dir
from objective.templates import PromptBuilder

FIXTURES = Path(__file__).parent / "fixtures" / "opencompass_data"

# ---- OpenCompass's own lists, copied verbatim from open-compass/opencompass (an independent
# ---- source for the check): configs/datasets/ceval/ceval_gen_5f30c7.py `ceval_subject_mapping`,
# ---- configs/summarizers/groups/{ceval,mmlu,cmmlu}.py, configs/datasets/mmlu/mmlu_all_sets.py.
OC_CEVAL_MAPPING = {
    "computer_network": ["Computer Network", "计算机网络", "STEM"],
    "operating_system": ["Operating System", "操作系统", "STEM"],
    "computer_architecture": ["Computer Architecture", "计算机组成", "STEM"],
    "college_programming": ["College Programming", "大学编程", "STEM"],
    "college_physics": ["College Physics", "大学物理", "STEM"],
    "college_chemistry": ["College Chemistry", "大学化学", "STEM"],
    "advanced_mathematics": ["Advanced Mathematics", "高等数学", "STEM"],
    "probability_and_statistics": ["Probability and Statistics", "概率统计", "STEM"],
    "discrete_mathematics": ["Discrete Mathematics", "离散数学", "STEM"],
    "electrical_engineer": ["Electrical Engineer", "注册电气工程师", "STEM"],
    "metrology_engineer": ["Metrology Engineer", "注册计量师", "STEM"],
    "high_school_mathematics": ["High School Mathematics", "高中数学", "STEM"],
    "high_school_physics": ["High School Physics", "高中物理", "STEM"],
    "high_school_chemistry": ["High School Chemistry", "高中化学", "STEM"],
    "high_school_biology": ["High School Biology", "高中生物", "STEM"],
    "middle_school_mathematics": ["Middle School Mathematics", "初中数学", "STEM"],
    "middle_school_biology": ["Middle School Biology", "初中生物", "STEM"],
    "middle_school_physics": ["Middle School Physics", "初中物理", "STEM"],
    "middle_school_chemistry": ["Middle School Chemistry", "初中化学", "STEM"],
    "veterinary_medicine": ["Veterinary Medicine", "兽医学", "STEM"],
    "college_economics": ["College Economics", "大学经济学", "Social Science"],
    "business_administration": ["Business Administration", "工商管理", "Social Science"],
    "marxism": ["Marxism", "马克思主义基本原理", "Social Science"],
    "mao_zedong_thought": [
        "Mao Zedong Thought",
        "毛泽东思想和中国特色社会主义理论体系概论",
        "Social Science",
    ],
    "education_science": ["Education Science", "教育学", "Social Science"],
    "teacher_qualification": ["Teacher Qualification", "教师资格", "Social Science"],
    "high_school_politics": ["High School Politics", "高中政治", "Social Science"],
    "high_school_geography": ["High School Geography", "高中地理", "Social Science"],
    "middle_school_politics": ["Middle School Politics", "初中政治", "Social Science"],
    "middle_school_geography": ["Middle School Geography", "初中地理", "Social Science"],
    "modern_chinese_history": ["Modern Chinese History", "近代史纲要", "Humanities"],
    "ideological_and_moral_cultivation": [
        "Ideological and Moral Cultivation",
        "思想道德修养与法律基础",
        "Humanities",
    ],
    "logic": ["Logic", "逻辑学", "Humanities"],
    "law": ["Law", "法学", "Humanities"],
    "chinese_language_and_literature": [
        "Chinese Language and Literature",
        "中国语言文学",
        "Humanities",
    ],
    "art_studies": ["Art Studies", "艺术学", "Humanities"],
    "professional_tour_guide": ["Professional Tour Guide", "导游资格", "Humanities"],
    "legal_professional": ["Legal Professional", "法律职业资格", "Humanities"],
    "high_school_chinese": ["High School Chinese", "高中语文", "Humanities"],
    "high_school_history": ["High School History", "高中历史", "Humanities"],
    "middle_school_history": ["Middle School History", "初中历史", "Humanities"],
    "civil_servant": ["Civil Servant", "公务员", "Other"],
    "sports_science": ["Sports Science", "体育学", "Other"],
    "plant_protection": ["Plant Protection", "植物保护", "Other"],
    "basic_medicine": ["Basic Medicine", "基础医学", "Other"],
    "clinical_medicine": ["Clinical Medicine", "临床医学", "Other"],
    "urban_and_rural_planner": ["Urban and Rural Planner", "注册城乡规划师", "Other"],
    "accountant": ["Accountant", "注册会计师", "Other"],
    "fire_engineer": ["Fire Engineer", "注册消防工程师", "Other"],
    "environmental_impact_assessment_engineer": [
        "Environmental Impact Assessment Engineer",
        "环境影响评价工程师",
        "Other",
    ],
    "tax_accountant": ["Tax Accountant", "税务师", "Other"],
    "physician": ["Physician", "医师资格", "Other"],
}
_ceval_stem = [
    "computer_network",
    "operating_system",
    "computer_architecture",
    "college_programming",
    "college_physics",
    "college_chemistry",
    "advanced_mathematics",
    "probability_and_statistics",
    "discrete_mathematics",
    "electrical_engineer",
    "metrology_engineer",
    "high_school_mathematics",
    "high_school_physics",
    "high_school_chemistry",
    "high_school_biology",
    "middle_school_mathematics",
    "middle_school_biology",
    "middle_school_physics",
    "middle_school_chemistry",
    "veterinary_medicine",
]
_ceval_social_science = [
    "college_economics",
    "business_administration",
    "marxism",
    "mao_zedong_thought",
    "education_science",
    "teacher_qualification",
    "high_school_politics",
    "high_school_geography",
    "middle_school_politics",
    "middle_school_geography",
]
_ceval_humanities = [
    "modern_chinese_history",
    "ideological_and_moral_cultivation",
    "logic",
    "law",
    "chinese_language_and_literature",
    "art_studies",
    "professional_tour_guide",
    "legal_professional",
    "high_school_chinese",
    "high_school_history",
    "middle_school_history",
]
_ceval_other = [
    "civil_servant",
    "sports_science",
    "plant_protection",
    "basic_medicine",
    "clinical_medicine",
    "urban_and_rural_planner",
    "accountant",
    "fire_engineer",
    "environmental_impact_assessment_engineer",
    "tax_accountant",
    "physician",
]
_ceval_hard = [
    "advanced_mathematics",
    "discrete_mathematics",
    "probability_and_statistics",
    "college_chemistry",
    "college_physics",
    "high_school_mathematics",
    "high_school_chemistry",
    "high_school_physics",
]
OC_CEVAL_GROUPS = {
    "ceval-stem": _ceval_stem,
    "ceval-social-science": _ceval_social_science,
    "ceval-humanities": _ceval_humanities,
    "ceval-other": _ceval_other,
    "ceval-hard": _ceval_hard,
    "ceval": _ceval_stem + _ceval_social_science + _ceval_humanities + _ceval_other,
}

OC_MMLU_ALL_SETS = [
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_physics",
    "electrical_engineering",
    "astronomy",
    "anatomy",
    "abstract_algebra",
    "machine_learning",
    "clinical_knowledge",
    "global_facts",
    "management",
    "nutrition",
    "marketing",
    "professional_accounting",
    "high_school_geography",
    "international_law",
    "moral_scenarios",
    "computer_security",
    "high_school_microeconomics",
    "professional_law",
    "medical_genetics",
    "professional_psychology",
    "jurisprudence",
    "world_religions",
    "philosophy",
    "virology",
    "high_school_chemistry",
    "public_relations",
    "high_school_macroeconomics",
    "human_sexuality",
    "elementary_mathematics",
    "high_school_physics",
    "high_school_computer_science",
    "high_school_european_history",
    "business_ethics",
    "moral_disputes",
    "high_school_statistics",
    "miscellaneous",
    "formal_logic",
    "high_school_government_and_politics",
    "prehistory",
    "security_studies",
    "high_school_biology",
    "logical_fallacies",
    "high_school_world_history",
    "professional_medicine",
    "high_school_mathematics",
    "college_medicine",
    "high_school_us_history",
    "sociology",
    "econometrics",
    "high_school_psychology",
    "human_aging",
    "us_foreign_policy",
    "conceptual_physics",
]
_mmlu_humanities = [
    "formal_logic",
    "high_school_european_history",
    "high_school_us_history",
    "high_school_world_history",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "moral_disputes",
    "moral_scenarios",
    "philosophy",
    "prehistory",
    "professional_law",
    "world_religions",
]
_mmlu_stem = [
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "electrical_engineering",
    "elementary_mathematics",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_mathematics",
    "high_school_physics",
    "high_school_statistics",
    "machine_learning",
]
_mmlu_social_science = [
    "econometrics",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_microeconomics",
    "high_school_psychology",
    "human_sexuality",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
]
_mmlu_other = [
    "business_ethics",
    "clinical_knowledge",
    "college_medicine",
    "global_facts",
    "human_aging",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "nutrition",
    "professional_accounting",
    "professional_medicine",
    "virology",
]
OC_MMLU_GROUPS = {
    "mmlu-humanities": _mmlu_humanities,
    "mmlu-stem": _mmlu_stem,
    "mmlu-social-science": _mmlu_social_science,
    "mmlu-other": _mmlu_other,
    "mmlu": _mmlu_humanities + _mmlu_stem + _mmlu_social_science + _mmlu_other,
}

# configs/summarizers/groups/cmmlu.py: subcategories + categories, grouped the way that file does
OC_CMMLU_SUBCATEGORIES = {
    "agronomy": ["other"],
    "anatomy": ["biology"],
    "ancient_chinese": ["linguistics", "china specific"],
    "arts": ["arts"],
    "astronomy": ["physics"],
    "business_ethics": ["business"],
    "chinese_civil_service_exam": ["politics", "china specific"],
    "chinese_driving_rule": ["other", "china specific"],
    "chinese_food_culture": ["culture", "china specific"],
    "chinese_foreign_policy": ["politics", "china specific"],
    "chinese_history": ["history", "china specific"],
    "chinese_literature": ["literature", "china specific"],
    "chinese_teacher_qualification": ["education", "china specific"],
    "college_actuarial_science": ["math"],
    "college_education": ["education"],
    "college_engineering_hydrology": ["engineering"],
    "college_law": ["law"],
    "college_mathematics": ["math"],
    "college_medical_statistics": ["statistics"],
    "clinical_knowledge": ["other"],
    "college_medicine": ["other"],
    "computer_science": ["computer science"],
    "computer_security": ["other"],
    "conceptual_physics": ["physics"],
    "construction_project_management": ["other", "china specific"],
    "economics": ["economics"],
    "education": ["education"],
    "elementary_chinese": ["linguistics", "china specific"],
    "elementary_commonsense": ["other", "china specific"],
    "elementary_information_and_technology": ["other"],
    "electrical_engineering": ["engineering"],
    "elementary_mathematics": ["math"],
    "ethnology": ["culture", "china specific"],
    "food_science": ["other"],
    "genetics": ["biology"],
    "global_facts": ["global"],
    "high_school_biology": ["biology"],
    "high_school_chemistry": ["chemistry"],
    "high_school_geography": ["geography"],
    "high_school_mathematics": ["math"],
    "high_school_physics": ["physics"],
    "high_school_politics": ["politics", "china specific"],
    "human_sexuality": ["other"],
    "international_law": ["law"],
    "journalism": ["sociology"],
    "jurisprudence": ["law"],
    "legal_and_moral_basis": ["other"],
    "logical": ["philosophy"],
    "machine_learning": ["computer science"],
    "management": ["business"],
    "marketing": ["business"],
    "marxist_theory": ["philosophy"],
    "modern_chinese": ["linguistics", "china specific"],
    "nutrition": ["other"],
    "philosophy": ["philosophy"],
    "professional_accounting": ["business"],
    "professional_law": ["law"],
    "professional_medicine": ["other"],
    "professional_psychology": ["psychology"],
    "public_relations": ["politics"],
    "security_study": ["politics"],
    "sociology": ["culture"],
    "sports_science": ["other"],
    "traditional_chinese_medicine": ["other", "china specific"],
    "virology": ["biology"],
    "world_history": ["history"],
    "world_religions": ["global"],
}
OC_CMMLU_CATEGORIES = {
    "STEM": [
        "physics",
        "chemistry",
        "biology",
        "computer science",
        "math",
        "engineering",
        "statistics",
    ],
    "Humanities": ["history", "philosophy", "law", "arts", "literature", "global"],
    "Social Science": [
        "linguistics",
        "business",
        "politics",
        "culture",
        "economics",
        "geography",
        "psychology",
        "education",
        "sociology",
    ],
    "Other": ["other"],
    "China specific": ["china specific"],
}


def _oc_cmmlu_groups() -> dict[str, list[str]]:
    category2subject: dict[str, list[str]] = {}
    for k, v in OC_CMMLU_CATEGORIES.items():
        for subject, subcat in OC_CMMLU_SUBCATEGORIES.items():
            for c in subcat:
                if c in v:
                    category2subject.setdefault(k, []).append(subject)
    names = {
        "Humanities": "cmmlu-humanities",
        "STEM": "cmmlu-stem",
        "Social Science": "cmmlu-social-science",
        "Other": "cmmlu-other",
        "China specific": "cmmlu-china-specific",
    }
    out = {names[k]: v for k, v in category2subject.items()}
    out["cmmlu"] = list(OC_CMMLU_SUBCATEGORIES)
    return out


def test_subject_lists_and_groups_equal_opencompass():
    assert len(cards.subjects("ceval")) == 52 and len(cards.subjects("mmlu")) == 57
    assert len(cards.subjects("cmmlu")) == 67
    assert cards.subjects("ceval") == list(OC_CEVAL_MAPPING)  # same names, same order
    assert {s: [*v] for s, v in cards.CEVAL.items()} == OC_CEVAL_MAPPING  # display names, category
    assert sorted(cards.subjects("mmlu")) == sorted(OC_MMLU_ALL_SETS)
    assert sorted(cards.subjects("cmmlu")) == sorted(OC_CMMLU_SUBCATEGORIES)
    for family, oc in (
        ("ceval", OC_CEVAL_GROUPS),
        ("mmlu", OC_MMLU_GROUPS),
        ("cmmlu", _oc_cmmlu_groups()),
    ):
        ours = cards.groups(family)
        assert set(ours) == set(oc), family
        for name, members in oc.items():
            assert sorted(ours[name]) == sorted(members), (family, name)
            assert len(set(ours[name])) == len(ours[name])
    assert len(cards.groups("ceval")["ceval"]) == 52 and len(cards.groups("mmlu")["mmlu"]) == 57
    # every CMMLU Chinese name as in cmmlu_ppl_8b9c76 (spot checks of the less obvious ones)
    assert (
        cards.CMMLU["high_school_physics"][0] == "高中物理学"
        and cards.CMMLU["logical"][0] == "逻辑学"
    )


def test_card_groups_come_from_the_family():
    with using_data_dir(FIXTURES):
        for name, family in (
            ("ceval_gen", "ceval"),
            ("ceval_ppl", "ceval"),
            ("mmlu_ppl", "mmlu"),
            ("mmlu_gen", "mmlu"),
            ("cmmlu_ppl", "cmmlu"),
            ("cmmlu_gen", "cmmlu"),
        ):
            ds = load_dataset(name)
            assert ds.card.groups == cards.groups(family)
            present = {s.subset for s in ds.samples}
            # a data root holding a few subjects reports groups over those subjects only
            assert all(set(m) <= present for m in ds.groups.values())
            assert set(ds.groups[family]) == present


# --------------------------------------------------------------------------- C-Eval


def test_ceval_reads_val_with_dev_shots_and_never_the_test_split():
    with using_data_dir(FIXTURES):
        ds = load_dataset("ceval_gen")
    subjects = ["college_economics", "computer_network", "high_school_physics", "law", "physician"]
    assert sorted({s.subset for s in ds.samples}) == subjects
    assert len(ds.samples) == 12 and len(ds.dev) == 10  # val rows; dev rows (test is not read)
    s = next(x for x in ds.samples if x.id == "high_school_physics/1")
    assert (
        s.question.startswith("物体从静止开始自由下落")
        and s.answer == 1
        and s.choices[1] == "20 m/s"
    )
    assert s.extra["fields"] == {"subject": "High School Physics", "subject_zh": "高中物理"}
    d = next(x for x in ds.dev if x.id == "computer_network/0")
    assert d.extra["solution"] == "1. 路由选择属于网络层的功能。"  # the explanation column
    b = PromptBuilder(ds.card.template, ds.dev, shots=5, pick="first", continuation="letter")
    p = b.prompt(s)
    # OpenCompass's ceval_gen_5f30c7 prompt: each shot is a full question with its answer letter
    head = "以下是中国关于高中物理考试的单项选择题，请选出其中的正确答案。\n"
    assert p == (
        head
        + "下列物理量中属于矢量的是\nA. 质量\nB. 时间\nC. 速度\nD. 温度\n答案: C\n"
        + head
        + "声音在下列哪种介质中不能传播？\nA. 空气\nB. 水\nC. 钢铁\nD. 真空\n答案: D\n"
        + head
        + s.question
        + "\nA. 10 m/s\nB. 20 m/s\nC. 40 m/s\nD. 5 m/s\n答案: "
    )
    assert [x.id for x in ds.limited(2)][:3] == [
        "college_economics/0",
        "college_economics/1",
        "computer_network/0",
    ]
    assert len(ds.limited(2)) == 10  # two per subject


def test_ceval_test_split_has_no_answers_and_says_so(tmp_path):
    card = tmp_path / "ceval_test.yaml"
    card.write_text(
        "root: data\ndata: ceval/formal_ceval/test/{subset}_test.csv\nfamily: ceval\nmode: gen\n"
        'template: {question: "{question}\\n{choices}\\n答案："}\n'
    )
    with using_data_dir(FIXTURES), pytest.raises(DataError) as exc:
        load_dataset(str(card))
    assert exc.value.field == "answer" and exc.value.line == 2
    assert "publishes no answers" in str(exc.value) and "_test.csv" in str(exc.value)


# --------------------------------------------------------------------------- MMLU / CMMLU


def test_mmlu_headerless_csv_first_row_is_a_question():
    with using_data_dir(FIXTURES):
        ds = load_dataset("mmlu_ppl")
    first = next(s for s in ds.samples if s.id == "marketing/0")
    assert first.question.startswith("Which pricing strategy") and first.answer == 1
    assert len(ds.samples) == 12 and {s.subset for s in ds.samples} == {
        "abstract_algebra",
        "marketing",
        "philosophy",
        "sociology",
    }
    s = next(x for x in ds.samples if x.id == "sociology/2")
    p = PromptBuilder(ds.card.template, ds.dev, shots=5, pick="first").prompt(s)
    assert p.startswith(
        "The following are multiple choice questions (with answers) about sociology.\n\n"
        "The study of human society is called\nA. psychology\nB. sociology\nC. biology\n"
        "D. geology\nAnswer: B\n\n"
    )
    assert p.endswith(
        "Upward movement in social position is called\nA. social mobility\nB. anomie\n"
        "C. deviance\nD. stratification\nAnswer:"
    )


def test_cmmlu_header_with_unnamed_index_column():
    with using_data_dir(FIXTURES):
        ds = load_dataset("cmmlu_ppl")
    s = next(x for x in ds.samples if x.id == "chinese_history/1")
    assert (
        s.question == "中国第一个王朝通常认为是"
        and s.answer == 1
        and s.choices == ["商朝", "夏朝", "周朝", "秦朝"]
    )
    assert ds.groups["cmmlu-china-specific"] == ["chinese_history"] and ds.groups[
        "cmmlu-other"
    ] == ["agronomy"]
    p = PromptBuilder(ds.card.template, ds.dev, shots=5, pick="first").prompt(s)
    assert p.endswith(
        "以下是关于中国历史的单项选择题，请直接给出正确答案的选项。\n题目：中国第一个王朝通常认为是\n"
        "A. 商朝\nB. 夏朝\nC. 周朝\nD. 秦朝\n答案是:"
    )


# --------------------------------------------------------------------------- GSM8K, ARC, HellaSwag, Winogrande


def test_gsm8k_gold_is_the_number_after_hashes():
    from objective.postprocess import get_postprocessor

    with using_data_dir(FIXTURES):
        ds = load_dataset("gsm8k_gen")
    assert [s.target for s in ds.samples] == ["10", "1100", "105"]
    assert ds.samples[1].extra["solution"].endswith("1,100 dollars.")
    post = get_postprocessor("gsm8k")
    assert post(" 12 - 2 = 10\nThe answer is 10\n\nQuestion: 7 more") == "10"
    from objective.metrics import exact_match

    assert (
        exact_match(post("so she pays 1,100 dollars.\nThe answer is 1,100"), ds.samples[1].target)
        == 1.0
    )
    p = PromptBuilder(ds.card.template, []).prompt(ds.samples[0])
    assert p.count("Let's think step by step\nAnswer:") == 5 and p.endswith(
        "Question: " + ds.samples[0].question + "\nLet's think step by step\nAnswer:"
    )


def test_arc_hellaswag_winogrande_released_forms():
    with using_data_dir(FIXTURES):
        arc, arc_e = load_dataset("ARC_c_ppl"), load_dataset("ARC_e_ppl")
        hs, wg = load_dataset("hellaswag_ppl"), load_dataset("winogrande_ppl")
    assert [s.answer for s in arc.samples] == [2, 0, 1]  # answerKey "2" with labels 1-4 -> index 1
    assert arc.samples[0].id == "Mercury_7175875" and arc.samples[2].choices[1] == "evaporation"
    assert [len(s.choices) for s in arc_e.samples] == [3, 5] and [
        s.answer for s in arc_e.samples
    ] == [2, 1]
    b = PromptBuilder(arc.card.template, [], continuation="text")
    assert (
        b.prompt(arc.samples[1])
        == "Question: Which technology was developed most recently?\nAnswer:"
    )
    assert b.continuations(arc.samples[1])[0] == " cellular telephone"
    assert hs.samples[0].question == "A man is sitting on a roof. he" and hs.samples[0].answer == 3
    assert wg.samples[1].choices == [
        "Sarah was a much better surgeon than Maria so Sarah always got the easier cases.",
        "Sarah was a much better surgeon than Maria so Maria always got the easier cases.",
    ]
    assert [s.answer for s in wg.samples] == [0, 1]


# --------------------------------------------------------------------------- missing data


def test_missing_data_says_what_where_and_how_to_get_it(tmp_path):
    with using_data_dir(tmp_path), pytest.raises(DataError) as exc:
        load_dataset("ceval_gen")
    msg = str(exc.value)
    assert f"{tmp_path}/ceval/formal_ceval/val/{{subset}}_val.csv" in msg
    assert "--data-dir" in msg and "ARENA_DATA_DIR" in msg and "OpenCompassData-core" in msg
    assert exc.value.field == "data" and exc.value.file.endswith("ceval_gen.yaml")
    with using_data_dir(tmp_path), pytest.raises(DataError, match="gsm8k/test.jsonl"):
        load_dataset("gsm8k_gen")


def test_unknown_subject_file_is_an_error(tmp_path):
    root = tmp_path / "data"
    (root / "mmlu" / "test").mkdir(parents=True)
    (root / "mmlu" / "dev").mkdir(parents=True)
    (root / "mmlu" / "test" / "astrology_test.csv").write_text("q,a,b,c,d,A\n")
    (root / "mmlu" / "dev" / "astrology_dev.csv").write_text("q,a,b,c,d,A\n")
    with using_data_dir(root), pytest.raises(DataError, match="'astrology' is not a mmlu subject"):
        load_dataset("mmlu_ppl")


# --------------------------------------------------------------------------- user cards


def _exports(tmp_path: Path) -> Path:
    """Two subsets exported as the `datasets` library writes them (pandas / pyarrow)."""
    rows = {
        "algebra": [("1+1?", "1", "2", "3", "4", "B"), ("2*3?", "5", "6", "7", "8", "B")],
        "logic": [("not true?", "true", "false", "both", "neither", "B")],
    }
    out = tmp_path / "exports"
    out.mkdir()
    for fmt in ("parquet", "jsonl", "json", "csv"):
        for subset, rs in rows.items():
            df = pd.DataFrame(rs, columns=["input", "A", "B", "C", "D", "target"])
            path = out / fmt / f"{subset}.{fmt}"
            path.parent.mkdir(exist_ok=True)
            if fmt == "parquet":
                df.to_parquet(path)  # Dataset.to_parquet
            elif fmt in ("jsonl", "json"):
                df.to_json(path, orient="records", lines=True, force_ascii=False)  # Dataset.to_json
            else:
                df.to_csv(path, index=False)  # Dataset.to_csv
    return out


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "json", "csv"])
def test_glob_with_subset_and_column_map_on_datasets_exports(tmp_path, fmt):
    _exports(tmp_path)
    card = tmp_path / "mine.yaml"
    card.write_text(
        f"data: exports/{fmt}/{{subset}}.{fmt}\nmode: ppl\n"
        "columns: {question: input, choices: [A, B, C, D], answer: target}\n"
        'template: {question: "{question}\\n{choices}\\nAnswer:", answer: " {answer}"}\n'
        "groups: {all: [algebra, logic]}\n"
    )
    ds = load_dataset(str(card))
    assert [(s.id, s.subset, s.answer) for s in ds.samples] == [
        ("algebra/0", "algebra", 1),
        ("algebra/1", "algebra", 1),
        ("logic/0", "logic", 1),
    ]
    assert ds.samples[1].choices == ["5", "6", "7", "8"] and ds.groups == {
        "all": ["algebra", "logic"]
    }
    # a folder works too, subsets named by the file stems
    card.write_text(card.read_text().replace(f"exports/{fmt}/{{subset}}.{fmt}", f"exports/{fmt}"))
    folder = load_dataset(str(card))
    assert [(s.id, s.answer) for s in folder.samples] == [(s.id, s.answer) for s in ds.samples]


def test_column_map_errors_name_the_column(tmp_path):
    (tmp_path / "d.csv").write_text("input,A,B,target\nq,x,y,A\n")
    card = tmp_path / "c.yaml"
    card.write_text(
        "data: d.csv\nmode: ppl\ncolumns: {question: input, choices: [A, B, C], answer: target}\n"
        'template: {question: "{question}\\n{choices}\\nAnswer:"}\n'
    )
    with pytest.raises(DataError) as exc:
        load_dataset(str(card))
    assert (exc.value.line, exc.value.field) == (2, "C")
    card.write_text("data: d.csv\nmode: ppl\ncolumns: {prompt: input}\n")
    with pytest.raises(ConfigError, match="unknown column target 'prompt'"):
        load_dataset(str(card))


def test_parquet_export_of_a_choices_list(tmp_path):
    df = pd.DataFrame(
        {
            "question": ["sky?", "grass?"],
            "choices": [["blue", "red"], ["green", "pink"]],
            "answer": [0, 0],
        }
    )
    df.to_parquet(tmp_path / "mc.parquet")
    ds = load_dataset(str(tmp_path / "mc.parquet"))
    assert ds.card.mode == "ppl" and ds.samples[1].choices == ["green", "pink"]
    json_list = tmp_path / "list.json"
    json_list.write_text(json.dumps([{"question": "q", "choices": ["a", "b"], "answer": "B"}]))
    assert load_dataset(str(json_list)).samples[0].answer == 1


def test_a_published_folder_without_a_card_loads_with_options_shown():
    ds = load_dataset(str(FIXTURES / "ceval" / "formal_ceval" / "val"))
    assert ds.card.mode == "ppl" and len(ds.samples) == 12
    assert sorted({s.subset for s in ds.samples})[:2] == ["college_economics", "computer_network"]
    s = ds.samples[0]
    p = PromptBuilder(ds.card.template, []).prompt(s)
    assert (
        p
        == f"Question: {s.question}\nA. 物价总水平持续上涨\nB. 货币供应减少\nC. 失业率下降\nD. 汇率上升\nAnswer:"
    )
    with pytest.raises(DataError, match="publishes no answers"):
        load_dataset(str(FIXTURES / "ceval" / "formal_ceval" / "test"))
