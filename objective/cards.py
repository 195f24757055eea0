"""Subject families: C-Eval (52), CMMLU (67) and MMLU (57) subjects, their display names and
the summary groups OpenCompass reports (its `ceval_summary_groups`, `cmmlu_summary_groups`,
`mmlu_summary_groups`), so one YAML card per family covers every subject.

A card with `family: ceval` gets, for each sample, the template fields `{subject}` (English
display name), `{subject_zh}` (Chinese name; C-Eval and CMMLU) and the groups below, restricted
to the subjects present in the data. Sources: open-compass/opencompass
`configs/datasets/{ceval,cmmlu,mmlu}/*` and `configs/summarizers/groups/{ceval,cmmlu,mmlu}.py`.
"""

from __future__ import annotations

# C-Eval: subject -> (English name, Chinese name, category), in OpenCompass's order.
CEVAL: dict[str, tuple[str, str, str]] = {
    "computer_network": ("Computer Network", "计算机网络", "STEM"),
    "operating_system": ("Operating System", "操作系统", "STEM"),
    "computer_architecture": ("Computer Architecture", "计算机组成", "STEM"),
    "college_programming": ("College Programming", "大学编程", "STEM"),
    "college_physics": ("College Physics", "大学物理", "STEM"),
    "college_chemistry": ("College Chemistry", "大学化学", "STEM"),
    "advanced_mathematics": ("Advanced Mathematics", "高等数学", "STEM"),
    "probability_and_statistics": ("Probability and Statistics", "概率统计", "STEM"),
    "discrete_mathematics": ("Discrete Mathematics", "离散数学", "STEM"),
    "electrical_engineer": ("Electrical Engineer", "注册电气工程师", "STEM"),
    "metrology_engineer": ("Metrology Engineer", "注册计量师", "STEM"),
    "high_school_mathematics": ("High School Mathematics", "高中数学", "STEM"),
    "high_school_physics": ("High School Physics", "高中物理", "STEM"),
    "high_school_chemistry": ("High School Chemistry", "高中化学", "STEM"),
    "high_school_biology": ("High School Biology", "高中生物", "STEM"),
    "middle_school_mathematics": ("Middle School Mathematics", "初中数学", "STEM"),
    "middle_school_biology": ("Middle School Biology", "初中生物", "STEM"),
    "middle_school_physics": ("Middle School Physics", "初中物理", "STEM"),
    "middle_school_chemistry": ("Middle School Chemistry", "初中化学", "STEM"),
    "veterinary_medicine": ("Veterinary Medicine", "兽医学", "STEM"),
    "college_economics": ("College Economics", "大学经济学", "Social Science"),
    "business_administration": ("Business Administration", "工商管理", "Social Science"),
    "marxism": ("Marxism", "马克思主义基本原理", "Social Science"),
    "mao_zedong_thought": (
        "Mao Zedong Thought",
        "毛泽东思想和中国特色社会主义理论体系概论",
        "Social Science",
    ),
    "education_science": ("Education Science", "教育学", "Social Science"),
    "teacher_qualification": ("Teacher Qualification", "教师资格", "Social Science"),
    "high_school_politics": ("High School Politics", "高中政治", "Social Science"),
    "high_school_geography": ("High School Geography", "高中地理", "Social Science"),
    "middle_school_politics": ("Middle School Politics", "初中政治", "Social Science"),
    "middle_school_geography": ("Middle School Geography", "初中地理", "Social Science"),
    "modern_chinese_history": ("Modern Chinese History", "近代史纲要", "Humanities"),
    "ideological_and_moral_cultivation": (
        "Ideological and Moral Cultivation",
        "思想道德修养与法律基础",
        "Humanities",
    ),
    "logic": ("Logic", "逻辑学", "Humanities"),
    "law": ("Law", "法学", "Humanities"),
    "chinese_language_and_literature": (
        "Chinese Language and Literature",
        "中国语言文学",
        "Humanities",
    ),
    "art_studies": ("Art Studies", "艺术学", "Humanities"),
    "professional_tour_guide": ("Professional Tour Guide", "导游资格", "Humanities"),
    "legal_professional": ("Legal Professional", "法律职业资格", "Humanities"),
    "high_school_chinese": ("High School Chinese", "高中语文", "Humanities"),
    "high_school_history": ("High School History", "高中历史", "Humanities"),
    "middle_school_history": ("Middle School History", "初中历史", "Humanities"),
    "civil_servant": ("Civil Servant", "公务员", "Other"),
    "sports_science": ("Sports Science", "体育学", "Other"),
    "plant_protection": ("Plant Protection", "植物保护", "Other"),
    "basic_medicine": ("Basic Medicine", "基础医学", "Other"),
    "clinical_medicine": ("Clinical Medicine", "临床医学", "Other"),
    "urban_and_rural_planner": ("Urban and Rural Planner", "注册城乡规划师", "Other"),
    "accountant": ("Accountant", "注册会计师", "Other"),
    "fire_engineer": ("Fire Engineer", "注册消防工程师", "Other"),
    "environmental_impact_assessment_engineer": (
        "Environmental Impact Assessment Engineer",
        "环境影响评价工程师",
        "Other",
    ),
    "tax_accountant": ("Tax Accountant", "税务师", "Other"),
    "physician": ("Physician", "医师资格", "Other"),
}
# C-Eval's "hard" subset (advanced math, physics and chemistry), part of OpenCompass's summary.
CEVAL_HARD = (
    "advanced_mathematics",
    "discrete_mathematics",
    "probability_and_statistics",
    "college_chemistry",
    "college_physics",
    "high_school_mathematics",
    "high_school_chemistry",
    "high_school_physics",
)

# MMLU: category -> subjects (hendrycks/test categories.py, as OpenCompass groups them).
MMLU_CATEGORIES: dict[str, tuple[str, ...]] = {
    "humanities": (
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
    ),
    "stem": (
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
    ),
    "social-science": (
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
    ),
    "other": (
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
    ),
}
MMLU: dict[str, str] = {s: cat for cat, subs in MMLU_CATEGORIES.items() for s in subs}

# CMMLU: subject -> (Chinese name, sub-categories); categories group the sub-categories.
CMMLU: dict[str, tuple[str, tuple[str, ...]]] = {
    "agronomy": ("农学", ("other",)),
    "anatomy": ("解剖学", ("biology",)),
    "ancient_chinese": ("古汉语", ("linguistics", "china specific")),
    "arts": ("艺术学", ("arts",)),
    "astronomy": ("天文学", ("physics",)),
    "business_ethics": ("商业伦理", ("business",)),
    "chinese_civil_service_exam": ("中国公务员考试", ("politics", "china specific")),
    "chinese_driving_rule": ("中国驾驶规则", ("other", "china specific")),
    "chinese_food_culture": ("中国饮食文化", ("culture", "china specific")),
    "chinese_foreign_policy": ("中国外交政策", ("politics", "china specific")),
    "chinese_history": ("中国历史", ("history", "china specific")),
    "chinese_literature": ("中国文学", ("literature", "china specific")),
    "chinese_teacher_qualification": ("中国教师资格", ("education", "china specific")),
    "clinical_knowledge": ("临床知识", ("other",)),
    "college_actuarial_science": ("大学精算学", ("math",)),
    "college_education": ("大学教育学", ("education",)),
    "college_engineering_hydrology": ("大学工程水文学", ("engineering",)),
    "college_law": ("大学法律", ("law",)),
    "college_mathematics": ("大学数学", ("math",)),
    "college_medical_statistics": ("大学医学统计", ("statistics",)),
    "college_medicine": ("大学医学", ("other",)),
    "computer_science": ("计算机科学", ("computer science",)),
    "computer_security": ("计算机安全", ("other",)),
    "conceptual_physics": ("概念物理学", ("physics",)),
    "construction_project_management": ("建设工程管理", ("other", "china specific")),
    "economics": ("经济学", ("economics",)),
    "education": ("教育学", ("education",)),
    "electrical_engineering": ("电气工程", ("engineering",)),
    "elementary_chinese": ("小学语文", ("linguistics", "china specific")),
    "elementary_commonsense": ("小学常识", ("other", "china specific")),
    "elementary_information_and_technology": ("小学信息技术", ("other",)),
    "elementary_mathematics": ("初等数学", ("math",)),
    "ethnology": ("民族学", ("culture", "china specific")),
    "food_science": ("食品科学", ("other",)),
    "genetics": ("遗传学", ("biology",)),
    "global_facts": ("全球事实", ("global",)),
    "high_school_biology": ("高中生物", ("biology",)),
    "high_school_chemistry": ("高中化学", ("chemistry",)),
    "high_school_geography": ("高中地理", ("geography",)),
    "high_school_mathematics": ("高中数学", ("math",)),
    "high_school_physics": ("高中物理学", ("physics",)),
    "high_school_politics": ("高中政治", ("politics", "china specific")),
    "human_sexuality": ("人类性行为", ("other",)),
    "international_law": ("国际法学", ("law",)),
    "journalism": ("新闻学", ("sociology",)),
    "jurisprudence": ("法理学", ("law",)),
    "legal_and_moral_basis": ("法律与道德基础", ("other",)),
    "logical": ("逻辑学", ("philosophy",)),
    "machine_learning": ("机器学习", ("computer science",)),
    "management": ("管理学", ("business",)),
    "marketing": ("市场营销", ("business",)),
    "marxist_theory": ("马克思主义理论", ("philosophy",)),
    "modern_chinese": ("现代汉语", ("linguistics", "china specific")),
    "nutrition": ("营养学", ("other",)),
    "philosophy": ("哲学", ("philosophy",)),
    "professional_accounting": ("专业会计", ("business",)),
    "professional_law": ("专业法学", ("law",)),
    "professional_medicine": ("专业医学", ("other",)),
    "professional_psychology": ("专业心理学", ("psychology",)),
    "public_relations": ("公共关系", ("politics",)),
    "security_study": ("安全研究", ("politics",)),
    "sociology": ("社会学", ("culture",)),
    "sports_science": ("体育学", ("other",)),
    "traditional_chinese_medicine": ("中医中药", ("other", "china specific")),
    "virology": ("病毒学", ("biology",)),
    "world_history": ("世界历史", ("history",)),
    "world_religions": ("世界宗教", ("global",)),
}
CMMLU_CATEGORIES: dict[str, tuple[str, ...]] = {
    "stem": (
        "physics",
        "chemistry",
        "biology",
        "computer science",
        "math",
        "engineering",
        "statistics",
    ),
    "humanities": ("history", "philosophy", "law", "arts", "literature", "global"),
    "social-science": (
        "linguistics",
        "business",
        "politics",
        "culture",
        "economics",
        "geography",
        "psychology",
        "education",
        "sociology",
    ),
    "other": ("other",),
    "china-specific": ("china specific",),
}

FAMILIES = ("ceval", "cmmlu", "mmlu")


def subjects(family: str) -> list[str]:
    """Every subject of a family, in the upstream order."""
    return list({"ceval": CEVAL, "cmmlu": CMMLU, "mmlu": MMLU}[family])


def groups(family: str) -> dict[str, list[str]]:
    """OpenCompass's summary groups of a family: `<family>-<category>` and `<family>` (all)."""
    if family == "ceval":
        out = {
            f"ceval-{cat.lower().replace(' ', '-')}": [s for s, v in CEVAL.items() if v[2] == cat]
            for cat in ("STEM", "Social Science", "Humanities", "Other")
        }
        out["ceval-hard"] = list(CEVAL_HARD)
        out["ceval"] = [
            s
            for g in ("ceval-stem", "ceval-social-science", "ceval-humanities", "ceval-other")
            for s in out[g]
        ]
    elif family == "mmlu":
        out = {f"mmlu-{cat}": list(subs) for cat, subs in MMLU_CATEGORIES.items()}
        out["mmlu"] = [s for subs in MMLU_CATEGORIES.values() for s in subs]
    else:
        out = {
            f"cmmlu-{cat}": [
                s for s, (_, subcats) in CMMLU.items() if any(c in subcats for c in cats)
            ]
            for cat, cats in CMMLU_CATEGORIES.items()
        }
        out["cmmlu"] = list(CMMLU)
    return out


def fields(family: str, subject: str) -> dict[str, str]:
    """Template fields of one subject: `subject` (English) and `subject_zh` (Chinese)."""
    if family == "ceval":
        en, zh, _ = CEVAL[subject]
        return {"subject": en, "subject_zh": zh}
    if family == "cmmlu":
        return {"subject": subject.replace("_", " "), "subject_zh": CMMLU[subject][0]}
    return {"subject": subject.replace("_", " ")}
