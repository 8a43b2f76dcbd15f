"""Vietnamese words that mean the same to a memory search, and broader words with the
narrower ones they cover: the full-text search adds them to a question's terms.

The embedding model (``all-minilm-l6-v2``) is an English one: it relates "mother" and
"mum", "surgery" and "operation", but not "mẹ" and "má", "mổ" and "phẫu thuật". This
list does that for Vietnamese: regional variants (North / South: "bát" / "chén",
"lợn" / "heo"), everyday synonyms and loanwords ("laptop" / "máy tính xách tay"), and
categories of everyday life ("ngoại ngữ" covers "tiếng Anh", "tiếng Hàn" …). Written
by hand for the topics people ask an assistant to remember (family, food, health, work,
study, money, transport, hobbies, time); add to it freely, one group a line.
"""

from __future__ import annotations

from collections import defaultdict

from cong.memory.words import fold, phrase_terms, tokens

# Words of one line mean the same ("|").
SAME = """
mẹ | má | mạ | u | bầm
bố | ba | cha | tía
chồng | ông xã | phu quân
vợ | bà xã | phu nhân
con trai | thằng bé | thằng cu | cu cậu | bé trai
con gái | bé gái | cô bé
con | con cái | đứa con | các con
bạn thân | chí cốt | bạn nối khố | tri kỷ | bạn chí cốt
hàng xóm | láng giềng | cạnh nhà | nhà bên
sếp | quản lý | người quản lý | cấp trên | trưởng phòng | lãnh đạo
đồng nghiệp | người cùng công ty | người cùng phòng
cưới | kết hôn | lấy chồng | lấy vợ | thành hôn | lập gia đình
người yêu | bạn trai | bạn gái | người thương
thú cưng | vật nuôi | nuôi
chó | cún
mèo | miu
trái cây | hoa quả
dứa | thơm | khóm
ngô | bắp
lợn | heo
bát | chén
cốc | ly
thìa | muỗng
cay | đồ cay | ớt
chua | đồ chua
ăn chay | chay | không ăn thịt | thuần chay
rượu bia | nhậu | rượu | bia | đồ uống có cồn | lai rai
cà phê | cafe | cà fê
trà | chè
bữa sáng | ăn sáng | điểm tâm
bữa trưa | ăn trưa | cơm trưa
bữa tối | ăn tối | cơm tối
món | món ăn | đồ ăn | thức ăn | ẩm thực
mổ | phẫu thuật | ca mổ | giải phẫu
bệnh | bịnh | mắc bệnh | bệnh tật
bác sĩ | bác sỹ | thầy thuốc
nha sĩ | khám răng | nha khoa
bệnh viện | nhà thương | phòng khám
thuốc | thuốc men | uống thuốc
kiêng | tránh | kỵ
mất ngủ | khó ngủ | trằn trọc | giấc ngủ
cân nặng | ký | kí | kg | cân
béo | mập
mắt | thị lực
dạ dày | bao tử
hen suyễn | hen | suyễn
tập thể dục | tập luyện | thể thao | vận động | rèn luyện
chạy bộ | chạy | marathon
công việc | nghề | nghề nghiệp | việc làm | làm nghề
công ty | chỗ làm | cơ quan | văn phòng | nơi làm việc | sở làm
lương | tiền lương | thu nhập | nhận lương | lãnh lương
làm thêm | kiếm thêm | làm ngoài giờ | nghề tay trái | part time
làm việc từ xa | làm ở nhà | làm tại nhà | remote
họp | cuộc họp | giao ban | meeting
kinh doanh | buôn bán | làm ăn | mở tiệm | mở quán | mở cửa hàng | bán hàng
tiệm | cửa hàng | quán | cửa tiệm | shop
trường | trường học
đại học | trường đại học | cao đẳng | học viện
sinh viên | hồi đi học | thời đi học | thời sinh viên | học sinh
tốt nghiệp | ra trường
khóa học | lớp học | khóa | lớp | theo học
gia sư | dạy kèm | dạy thêm
giáo viên | thầy giáo | cô giáo | giảng viên | dạy học | nhà giáo
laptop | máy tính xách tay | notebook
máy tính | máy vi tính | pc | computer
điện thoại | di động | smartphone | điện thoại di động
mạng | internet | online | trực tuyến | trên mạng
mua sắm | mua hàng | mua đồ | shopping
ví điện tử | ứng dụng thanh toán | momo | zalopay | vnpay
phần mềm | ứng dụng | app | công cụ | chương trình
mật khẩu | password
ô tô | xe hơi | oto
xe máy | xe gắn máy | xe tay ga | xe số
bằng lái | giấy phép lái xe | bằng lái xe
say xe | say tàu xe | say sóng
bảo dưỡng | bảo trì | thay nhớt | sửa xe
tiết kiệm | để dành | dành dụm
vay | mượn | nợ | khoản vay
căn hộ | chung cư | căn nhà | nhà ở
bất động sản | nhà đất | nhà cho thuê
cho thuê | cho mướn
du lịch | đi chơi | nghỉ mát | đi phượt
biển | bãi biển | đi biển
quê | quê nhà | quê hương | quê quán | về quê
nước ngoài | ngoại quốc | du học | hải ngoại
sở thích | thú vui | đam mê | thú tiêu khiển
câu lạc bộ | clb | hội | nhóm | hội nhóm
chụp ảnh | nhiếp ảnh | chụp hình | máy ảnh | máy chụp hình
phim | điện ảnh | xem phim
phim hoạt hình | hoạt hình | anime
nhạc | âm nhạc | bài hát | ca khúc | nghe nhạc
nấu ăn | nấu nướng | làm bếp
làm vườn | trồng cây | trồng rau | cây cảnh
thiền | ngồi thiền | tĩnh tâm | thư giãn
từ thiện | việc thiện | tình nguyện | công quả
đi lễ | đi chùa | đi nhà thờ | lễ
tin tức | báo | thời sự | đọc báo
bóng đá | đá bóng | đá banh
đội bóng | đội tuyển | câu lạc bộ bóng đá
cổ vũ | ủng hộ | hâm mộ | fan
sáng | buổi sáng
tối | buổi tối | ban đêm
thức dậy | dậy | ngủ dậy | thức giấc
đi ngủ | lên giường | ngủ
sinh nhật | ngày sinh | sinh ngày
tết | năm mới | tết nguyên đán
năm sau | năm tới | sang năm
tháng sau | tháng tới
thích | mê | khoái | ưa | yêu thích | ghiền | nghiện
ghét | không thích | không ưa | không chịu
muốn | định | dự định | mong | ước | mơ ước | ước mơ | mục tiêu | kế hoạch
sợ | sợ hãi | e ngại
tên | tên là | gọi là
nhà | gia đình | cả nhà
"""

# A broader word, then the narrower ones it covers: a question with the broader word
# finds memories with a narrower one, and the other way round (not narrower to narrower);
# a broader word may take several lines.
BROADER = """
thú cưng: chó | mèo | cá | chim | thỏ | chuột hamster
hải sản: tôm | cua | mực | cá | ốc | sò | nghêu | ghẹ | hến
món nước: phở | bún | miến | hủ tiếu | canh
ngoại ngữ: tiếng anh | tiếng pháp | tiếng hàn | tiếng nhật | tiếng trung | tiếng đức
ngoại ngữ: tiếng nga | tiếng tây ban nha | tiếng ý | tiếng thái | tiếng lào
sách: truyện | tiểu thuyết | tạp chí | quyển | cuốn | đọc sách
nhạc cụ: đàn | guitar | ghi ta | piano | dương cầm | violin | vĩ cầm
nhạc cụ: sáo | trống | đàn tranh | đàn bầu | kèn
thể thao: bóng đá | cầu lông | bơi | tennis | quần vợt | bóng chuyền | bóng rổ
thể thao: chạy bộ | yoga | gym | võ | đạp xe | bóng bàn
phương tiện: xe máy | ô tô | xe hơi | xe đạp | xe buýt | tàu | máy bay | taxi | grab
sàn: shopee | lazada | tiki | tiktok shop | sendo
ngân hàng: vietcombank | techcombank | bidv | vietinbank | agribank
ngân hàng: vpbank | tpbank | sacombank | acb | mb bank
châu âu: pháp | đức | ý | anh | tây ban nha | hà lan | thụy sĩ | bồ đào nha
châu á: nhật bản | hàn quốc | trung quốc | thái lan | singapore | lào | campuchia
thời tiết: mưa | nắng | lạnh | nóng | gió | mát | rét | nồm
màu: xanh | đỏ | vàng | tím | hồng | trắng | đen | cam | nâu | xám
bệnh: hen | suyễn | tiểu đường | huyết áp | cận thị | dị ứng | đau | sốt | cảm
anh chị em: anh trai | chị gái | em trai | em gái
cuối tuần: thứ bảy | chủ nhật
đồ uống: cà phê | trà | bia | rượu | nước ngọt | sinh tố | nước ép | sữa
"""

Phrase = tuple[str, ...]


def _phrases(part: str) -> list[Phrase]:
    return [tuple(tokens(p)) for p in part.split("|") if p.strip()]


def _relations() -> dict[Phrase, set[Phrase]]:
    related: defaultdict[Phrase, set[Phrase]] = defaultdict(set)
    for line in SAME.strip().splitlines():
        group = _phrases(line)
        for phrase in group:
            related[phrase].update(p for p in group if p != phrase)
    for line in BROADER.strip().splitlines():
        broad, narrow = line.split(":", 1)
        (head,) = _phrases(broad)
        for phrase in _phrases(narrow):
            related[head].add(phrase)
            related[phrase].add(head)
    return related


class Lexicon:
    """The related words' terms of each phrase, by the phrase as written and folded."""

    def __init__(self) -> None:
        self._exact: dict[Phrase, frozenset[str]] = {}
        folded: defaultdict[Phrase, set[str]] = defaultdict(set)
        for phrase, others in _relations().items():
            found = frozenset(t for other in others for t in phrase_terms(other))
            self._exact[phrase] = found
            folded[tuple(fold(w) for w in phrase)].update(found)
        self._folded = {phrase: frozenset(found) for phrase, found in folded.items()}
        self.longest = max(len(p) for p in self._exact)

    def expansions(self, words: list[str]) -> set[str]:
        """The terms of the words related to any phrase of ``words`` (lower case). A
        phrase typed without accents is looked up folded."""
        out: set[str] = set()
        for start in range(len(words)):
            for size in range(1, self.longest + 1):
                phrase = tuple(words[start : start + size])
                if len(phrase) < size:
                    break
                found = self._exact.get(phrase)
                if found is None and all(fold(w) == w for w in phrase):
                    found = self._folded.get(phrase)
                if found:
                    out |= found
        return out


LEXICON = Lexicon()
